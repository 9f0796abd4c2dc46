// `civostack pxe serve` with the real dnsmasq, in network namespaces this test makes: a DHCP
// client (busybox udhcpc) with a node's MAC gets its reserved address, an unknown MAC gets none
// and is listed, proxy-DHCP hands out no address, and SIGTERM leaves no process or port behind.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootRuntime } from '../../src/boot/index.js';
import { civostack } from '../helpers/cli.js';
import { REPO, tempDir } from '../helpers/manifest.js';
import { inNs } from '../helpers/netns.js';
import { customOsManifest, pxeServe } from '../helpers/pxe-serve.js';

const id = `${process.pid % 10000}`;
const SRV = `civo-t-srv${id}`;
const CLI = `civo-t-cli${id}`;
const ip = (...args: string[]) => execa('ip', args);

async function udhcpc(): Promise<{ ok: boolean; output: string }> {
  const r = await inNs(
    CLI,
    'busybox',
    ['udhcpc', '-i', 'vc', '-n', '-q', '-f', '-t', '4', '-T', '1', '-s', '/bin/true'],
    { reject: false },
  );
  return { ok: r.exitCode === 0, output: `${String(r.stdout)}${String(r.stderr)}` };
}

/** The DHCPOFFER a PXE client (test/helpers/pxe-client.py) with r01-n02's second NIC gets. */
async function pxeOffer(arch: number, userClass?: string) {
  const r = await inNs(CLI, 'python3', [
    join(REPO, 'test/helpers/pxe-client.py'),
    'vc',
    '52:54:00:bb:00:02',
    String(arch),
    '0.0.0.0',
    ...(userClass ? [userClass] : []),
  ]);
  const { offer } = JSON.parse(String(r.stdout)) as {
    offer: { message: string; yiaddr: string; file: string; noPxeDhcp: boolean };
  };
  return offer;
}

describe('civostack pxe serve (real dnsmasq, network namespaces)', () => {
  beforeAll(async () => {
    await ip('netns', 'add', SRV);
    await ip('netns', 'add', CLI);
    await ip('link', 'add', 'civo-t-vs', 'type', 'veth', 'peer', 'name', 'civo-t-vc');
    await ip('link', 'set', 'civo-t-vs', 'netns', SRV);
    await ip('link', 'set', 'civo-t-vc', 'netns', CLI);
    await inNs(SRV, 'ip', ['link', 'set', 'civo-t-vs', 'name', 'vs']);
    await inNs(CLI, 'ip', ['link', 'set', 'civo-t-vc', 'name', 'vc']);
    await inNs(SRV, 'ip', ['addr', 'add', '10.100.0.5/24', 'dev', 'vs']);
    for (const [ns, dev] of [
      [SRV, 'vs'],
      [CLI, 'vc'],
      [SRV, 'lo'],
      [CLI, 'lo'],
    ] as const) {
      await inNs(ns, 'ip', ['link', 'set', dev, 'up']);
    }
  });
  afterAll(async () => {
    for (const ns of [SRV, CLI]) await execa('ip', ['netns', 'del', ns], { reject: false });
  });

  it('leases reserved addresses only, lists unknown MACs, and stops cleanly on SIGTERM', async () => {
    const file = customOsManifest();
    const state = join(tempDir(), 'state');
    const { proc, out } = await pxeServe(SRV, file, state);
    try {
      // A MAC the manifest does not know: no address, and it is listed.
      await inNs(CLI, 'ip', ['link', 'set', 'vc', 'address', '52:54:00:ff:00:01']);
      const unknown = await udhcpc();
      expect(unknown.ok, unknown.output).toBe(false);
      const listed = await civostack(['pxe', 'unknown', file, '--state-dir', state, '--output', 'json']);
      expect((JSON.parse(listed.stdout) as { mac: string }[]).map((u) => u.mac)).toContain(
        '52:54:00:ff:00:01',
      );

      // r01-n02's second NIC: its reserved address, and the node moves to "dhcp".
      await inNs(CLI, 'ip', ['link', 'set', 'vc', 'address', '52:54:00:bb:00:02']);
      const known = await udhcpc();
      expect(known.ok, known.output).toBe(true);
      expect(known.output).toContain('10.100.0.11');
      const status = await civostack(['region', 'status', file, '--state-dir', state, '--output', 'json']);
      const nodes = JSON.parse(status.stdout) as { node: string; state: string; mac?: string }[];
      expect(nodes.find((n) => n.node === 'r01-n02')).toMatchObject({
        state: 'dhcp',
        mac: '52:54:00:bb:00:02',
      });
      expect(nodes.map((n) => n.state)).toEqual(['pending', 'dhcp', 'pending']);

      // Its iPXE script, over HTTP, from its reserved address only.
      await inNs(CLI, 'ip', ['addr', 'add', '10.100.0.11/24', 'dev', 'vc']);
      const script = await inNs(CLI, 'busybox', [
        'wget',
        '-q',
        '-O',
        '-',
        'http://10.100.0.5:8080/ipxe/52-54-00-bb-00-02.ipxe',
      ]);
      expect(String(script.stdout)).toContain('r01-n02');
      await inNs(CLI, 'ip', ['addr', 'flush', 'dev', 'vc']);
      await inNs(CLI, 'ip', ['addr', 'add', '10.100.0.50/24', 'dev', 'vc']);
      const stranger = await inNs(
        CLI,
        'busybox',
        ['wget', '-q', '-O', '-', 'http://10.100.0.5:8080/ipxe/52-54-00-bb-00-02.ipxe'],
        { reject: false },
      );
      expect(stranger.exitCode).not.toBe(0);
      await inNs(CLI, 'ip', ['addr', 'flush', 'dev', 'vc']);

      // Firmware PXE gets iPXE by TFTP; iPXE gets its script URL and is told not to wait for a
      // ProxyDHCP offer (175.176), which in full-DHCP mode never comes.
      const firmware = await pxeOffer(0);
      expect(firmware).toMatchObject({ message: 'OFFER', yiaddr: '10.100.0.11', file: 'undionly.kpxe' });
      expect(firmware.noPxeDhcp).toBe(false);
      const ipxe = await pxeOffer(0, 'iPXE');
      expect(ipxe).toMatchObject({
        message: 'OFFER',
        yiaddr: '10.100.0.11',
        file: 'http://10.100.0.5:8080/ipxe/boot.ipxe',
      });
      expect(ipxe.noPxeDhcp).toBe(true);
    } finally {
      proc.kill('SIGTERM');
    }
    const result = await proc;
    expect(result.exitCode, out()).toBe(0);
    expect(out()).toContain('boot server stopped (SIGTERM)');
    const left = await execa('pgrep', ['-f', `conf-file=${state}`], { reject: false });
    expect(left.stdout, 'dnsmasq left running').toBe('');
    const nginx = await execa('pgrep', ['-f', `-c ${state}/boot/nginx/`], { reject: false });
    expect(nginx.stdout, 'nginx left running').toBe('');
    const listening = await inNs(SRV, 'ss', ['-lntup']);
    expect(String(listening.stdout)).not.toMatch(/:8080|:67\b/);
    expect(existsSync(bootRuntime({ path: state }).tftpRoot), 'TFTP folder left in /tmp').toBe(false);
  });

  it('starts again after being killed outright, taking over from the dnsmasq it left behind', async () => {
    const file = customOsManifest();
    const state = join(tempDir(), 'state');
    const first = await pxeServe(SRV, file, state);
    first.proc.kill('SIGKILL');
    await first.proc;
    // SIGKILL skips every cleanup: dnsmasq (its own process group) is still running.
    expect(String((await execa('pgrep', ['-f', `conf-file=${state}`], { reject: false })).stdout)).not.toBe(
      '',
    );
    const second = await pxeServe(SRV, file, state);
    try {
      await inNs(CLI, 'ip', ['link', 'set', 'vc', 'address', '52:54:00:aa:00:03']);
      const r = await udhcpc();
      expect(r.ok, r.output).toBe(true);
      expect(r.output).toContain('10.100.0.12');
    } finally {
      second.proc.kill('SIGTERM');
    }
    expect((await second.proc).exitCode, second.out()).toBe(0);
    expect(String((await execa('pgrep', ['-f', `conf-file=${state}`], { reject: false })).stdout)).toBe('');
    // The nginx the first one left held the boot port; the second took over from it and stopped its own.
    expect(String((await execa('pgrep', ['-f', `-c ${state}/boot/nginx/`], { reject: false })).stdout)).toBe(
      '',
    );
  });

  it('in proxy-DHCP mode never leases an address (its boot answers: pxe-proxy.test.ts)', async () => {
    const file = customOsManifest();
    const state = join(tempDir(), 'state');
    const { proc, out } = await pxeServe(SRV, file, state, ['--dhcp', 'proxy']);
    try {
      await inNs(CLI, 'ip', ['link', 'set', 'vc', 'address', '52:54:00:aa:00:02']);
      const r = await udhcpc();
      expect(r.ok, r.output).toBe(false);
      expect(r.output).not.toContain('10.100.0.11');
    } finally {
      proc.kill('SIGTERM');
    }
    expect((await proc).exitCode, out()).toBe(0);
  });
});
