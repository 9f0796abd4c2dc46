// `pxe serve --dhcp proxy` beside a site's own DHCP server, with the real dnsmasq: a PXE client
// (test/helpers/pxe-client.py: a firmware's DHCP exchange, DISCOVER then the port-4011 request)
// in a namespace this test makes gets no address from it, but the boot file and next server the
// rendered config names, and that file really is there: by TFTP for firmware, by HTTP for iPXE.
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootRuntime } from '../../src/boot/index.js';
import { civostack } from '../helpers/cli.js';
import { REPO, tempDir } from '../helpers/manifest.js';
import { inNs, testNet, type TestNet } from '../helpers/netns.js';
import { customOsManifest, pxeServe, stopPxeServe, type PxeServe } from '../helpers/pxe-serve.js';
import { renderFile } from '../helpers/render.js';

const BOOTSTRAP = '10.100.0.5';
// r01-n02's first NIC; the site's DHCP server leased it 10.100.0.11 (the test sets it up so).
const MAC = '52:54:00:aa:00:02';
const LEASED = '10.100.0.11';

interface DhcpReply {
  message: string;
  yiaddr: string;
  siaddr: string;
  file: string;
  vendorClass: string | null;
}

async function pxeClient(ns: string, mac: string, arch: number, userClass?: string) {
  const r = await execa(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'python3',
      join(REPO, 'test/helpers/pxe-client.py'),
      'eth0',
      mac,
      String(arch),
      LEASED,
      ...(userClass ? [userClass] : []),
    ],
    { reject: false, timeout: 30_000 },
  );
  if (r.stderr) throw new Error(`pxe-client.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { offer: DhcpReply | null; ack: DhcpReply | null };
}

describe('civostack pxe serve --dhcp proxy (real dnsmasq, a PXE client in a namespace)', () => {
  let net: TestNet;
  let serve: PxeServe;
  let state: string;
  let node: string;
  const file = customOsManifest();
  const { tree } = renderFile(file);

  beforeAll(async () => {
    net = await testNet('cvpfp', `${BOOTSTRAP}/24`, ['node']);
    node = net.clients['node']!;
    await inNs(node, 'ip', ['link', 'set', 'eth0', 'address', MAC]);
    await inNs(node, 'ip', ['addr', 'add', `${LEASED}/24`, 'dev', 'eth0']);
    state = join(tempDir(), 'state');
    serve = await pxeServe(net.server, file, state, ['--dhcp', 'proxy']);
  });
  afterAll(async () => {
    if (serve) expect(await stopPxeServe(serve), serve.out()).toBe(0);
    await net?.close();
  });

  /** The boot file the rendered dnsmasq.conf names for a client system type, in or out of iPXE. */
  const rendered = (csa: 'x86PC' | 'X86-64_EFI', ipxe: boolean): string => {
    const conf = readFileSync(bootRuntime({ path: state }).dnsmasqConf, 'utf8');
    const line = new RegExp(`^pxe-service=tag:${ipxe ? '' : '!'}ipxe,${csa},"civostack",(\\S+)$`, 'm').exec(
      conf,
    );
    if (!line) throw new Error(`no pxe-service line for ${csa} in:\n${conf}`);
    return line[1]!;
  };

  it.each([
    { firmware: 'BIOS', arch: 0, csa: 'x86PC' as const, binary: 'undionly.kpxe' },
    { firmware: 'UEFI', arch: 7, csa: 'X86-64_EFI' as const, binary: 'ipxe.efi' },
  ])(
    'hands $firmware firmware no address, but the iPXE binary and next server it then fetches by TFTP',
    async ({ arch, csa, binary }) => {
      const { offer, ack } = await pxeClient(node, MAC, arch);
      expect(offer, serve.out()).not.toBeNull();
      expect(offer).toMatchObject({ message: 'OFFER', yiaddr: '0.0.0.0', vendorClass: 'PXEClient' });
      expect(ack).toMatchObject({ message: 'ACK', file: rendered(csa, false), siaddr: BOOTSTRAP });
      expect(ack!.file).toBe(binary);

      // What the firmware does with that answer: fetch the file from the next server by TFTP.
      const got = join(tempDir(), binary);
      const tftp = await inNs(node, 'busybox', ['tftp', '-g', '-r', ack!.file, '-l', got, ack!.siaddr], {
        reject: false,
      });
      expect(tftp.exitCode, `${String(tftp.stderr)}\n${serve.out()}`).toBe(0);
      const staged = readFileSync(join(bootRuntime({ path: state }).tftpRoot, binary));
      expect(readFileSync(got).equals(staged)).toBe(true);
    },
  );

  it('hands iPXE the HTTP script URL of the rendered config, and that URL serves the script', async () => {
    const { offer, ack } = await pxeClient(node, MAC, 0, 'iPXE');
    expect(offer).toMatchObject({ message: 'OFFER', yiaddr: '0.0.0.0' });
    expect(ack).toMatchObject({ message: 'ACK', file: rendered('x86PC', true), siaddr: BOOTSTRAP });
    expect(ack!.file).toBe(`http://${BOOTSTRAP}:8080/ipxe/boot.ipxe`);
    const got = join(tempDir(), 'boot.ipxe');
    await inNs(node, 'busybox', ['wget', '-q', '-O', got, ack!.file]);
    expect(readFileSync(got, 'utf8')).toBe(tree.get('boot/ipxe/boot.ipxe')!.content);
  });

  it('answers a MAC that is not in the manifest with nothing, and lists it', async () => {
    const stranger = '52:54:00:ff:00:09';
    await inNs(node, 'ip', ['link', 'set', 'eth0', 'address', stranger]);
    try {
      expect(await pxeClient(node, stranger, 0)).toEqual({ offer: null, ack: null });
    } finally {
      await inNs(node, 'ip', ['link', 'set', 'eth0', 'address', MAC]);
    }
    const listed = await civostack(['pxe', 'unknown', file, '--state-dir', state, '--output', 'json']);
    expect((JSON.parse(listed.stdout) as { mac: string }[]).map((u) => u.mac)).toContain(stranger);
  });
});
