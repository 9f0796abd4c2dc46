// civostack's BMC drivers against real emulators: OpenIPMI's ipmi_sim and sushy-tools, each driving a
// lab QEMU machine through the `lab vm` hook, in a network namespace this test makes and removes.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bmcDrivers, type PowerDriver } from '../../src/bmc/index.js';
import {
  createLabNetwork,
  destroyLabNetwork,
  ensureBmcEmulators,
  labNetwork,
  readAudit,
  stopBmcEmulators,
  vmFiles,
  vmHookPaths,
  vmIsOn,
  type LabNetwork,
} from '../../src/lab/index.js';
import { readPid } from '../../src/lab/qemu.js';
import { loadRegion } from '../../src/manifest/index.js';
import { planRegion, type Plan } from '../../src/plan/index.js';
import type { StateDir } from '../../src/state/index.js';
import { civostack } from '../helpers/cli.js';
import { labWith, tempDir } from '../helpers/manifest.js';

const NS = `cvbm-${process.pid}`;
const HOST_LINK = `cvbm-o${process.pid % 100000}`;
const WRONG_PASSWORD = 'Wr0ng-pa55word-cvbm';

let manifest: string;
let plan: Plan;
let state: StateDir;
let net: LabNetwork;
let drivers: (node: string) => PowerDriver | undefined;
let dnsmasq: ChildProcess | undefined;
let dhcpLog: string;

/** Leftovers of an earlier run that was killed: namespaces and links with this test's prefix. */
async function removeLeftovers(): Promise<void> {
  const spaces = String((await execa('ip', ['netns', 'list'], { reject: false })).stdout)
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith('cvbm-'));
  for (const ns of spaces) {
    const pids = String((await execa('ip', ['netns', 'pids', ns], { reject: false })).stdout)
      .split(/\s+/)
      .filter(Boolean);
    if (pids.length) await execa('kill', ['-KILL', ...pids], { reject: false });
    await execa('ip', ['netns', 'del', ns], { reject: false });
  }
  const links = String((await execa('ip', ['-o', 'link', 'show'], { reject: false })).stdout)
    .split('\n')
    .map((l) => / (cvbm-[^:@ ]+)[:@]/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
  for (const l of links) await execa('ip', ['link', 'del', l], { reject: false });
}

async function until<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function qemuCmdline(node: string): string | undefined {
  const pid = readPid(vmFiles(vmHookPaths(state).dir, node).pidfile);
  if (pid === undefined) return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

function dhcpDiscoveries(mac: string): number {
  if (!existsSync(dhcpLog)) return 0;
  return readFileSync(dhcpLog, 'utf8')
    .split('\n')
    .filter((l) => l.includes('DHCPDISCOVER') && l.toLowerCase().includes(mac)).length;
}

beforeAll(async () => {
  await removeLeftovers();
  // Two BIOS nodes (SeaBIOS + iPXE reach DHCP fastest under TCG): r01-n01 Redfish, r01-n02 IPMI.
  manifest = labWith((m) => {
    m.region.name = 'cvbm';
    m.networks.oob = { cidr: '10.202.0.0/20', rackPrefix: 24 };
    m.networks.provisioning = { cidr: '10.202.16.0/20', rackPrefix: 24, vlan: 10 };
    m.networks.node = { cidr: '10.202.32.0/20', rackPrefix: 24, vlan: 20 };
    m.networks.loopback = '10.202.48.0/24';
    m.networks.p2p = '10.202.49.0/24';
    m.bootstrap.address = '10.202.16.5';
    m.os.nameservers = ['10.202.16.5'];
    m.kubernetes.apiVip = '10.202.32.5';
    const rack = m.racks[0];
    rack.nodes = rack.nodes.slice(0, 2);
    rack.nodes[0].sku = 'lab-vm-bios';
  });
  const loaded = loadRegion(manifest);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics));
  plan = planRegion(loaded.region, {}, { prune: false }).plan;
  state = { path: join(tempDir('cvbm-state-'), 'state') };
  net = {
    ...labNetwork(plan, 'cvbm', { features: { bonding: false, vlan: false, vlanFiltering: false } }),
    namespace: NS,
  };
  await createLabNetwork(net);
  // A real DHCP server on the provisioning network: its log shows which MACs asked.
  dhcpLog = join(dirname(state.path), 'dnsmasq.log');
  dnsmasq = spawn(
    'ip',
    [
      'netns',
      'exec',
      NS,
      'dnsmasq',
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--port=0',
      `--interface=${net.bridge.name}`,
      '--bind-interfaces',
      '--dhcp-range=10.202.16.100,10.202.16.200,2m',
      '--log-dhcp',
      `--log-facility=${dhcpLog}`,
      `--dhcp-leasefile=${dhcpLog}.leases`,
      `--pid-file=${dhcpLog}.pid`,
    ],
    { stdio: 'ignore' },
  );
  await ensureBmcEmulators(plan, state, net, {
    manifestDir: dirname(manifest),
    hostLink: HOST_LINK,
    accel: 'tcg',
    memoryMiB: 256,
  });
  drivers = bmcDrivers(plan, { manifestDir: dirname(manifest) });
}, 120_000);

afterAll(async () => {
  if (plan && state) {
    for (const n of plan.nodes) {
      const pid = readPid(vmFiles(vmHookPaths(state).dir, n.name).pidfile);
      if (pid !== undefined) await execa('kill', ['-KILL', String(pid)], { reject: false });
    }
    await stopBmcEmulators(plan, state, { hostLink: HOST_LINK });
  }
  dnsmasq?.kill('SIGTERM');
  if (net) await destroyLabNetwork(net, undefined, { graceMs: 2000 });
  await removeLeftovers();
  if (state) rmSync(dirname(state.path), { recursive: true, force: true });
  if (manifest) rmSync(dirname(manifest), { recursive: true, force: true });
}, 60_000);

describe.each([
  ['ipmi', 'r01-n02', '52:54:00:aa:00:02'],
  ['redfish', 'r01-n01', '52:54:00:aa:00:01'],
] as const)('%s through its emulator', (protocol, node, mac) => {
  it('is off, boots PXE once (a DHCP request from its first NIC), boots the disk after a cycle, and is off again', async () => {
    const bmc = drivers(node)!;
    expect(bmc.protocol).toBe(protocol);
    try {
      const first = await bmc.status();
      expect(first.power, first.reason).toBe('off');
      expect(vmIsOn(state, node)).toBe(false);

      await bmc.bootNext('pxe');
      await bmc.on();
      await until(`${node}'s QEMU`, () => vmIsOn(state, node), 30_000);
      expect(qemuCmdline(node)).toMatch(/virtio-net-pci,netdev=net0,mac=[0-9a-f:]+,bootindex=1/);
      await until(`a DHCPDISCOVER from ${mac}`, () => dhcpDiscoveries(mac) > 0, 90_000);
      expect((await bmc.status()).power).toBe('on');

      const startsBefore = readAudit(state).filter((e) => e.node === node && e.result === 'started').length;
      await bmc.cycle();
      const restart = await until(
        `${node}'s machine started again`,
        () => readAudit(state).filter((e) => e.node === node && e.result === 'started')[startsBefore],
        60_000,
      );
      // Once consumed: the second boot puts the disk first.
      expect(restart).toMatchObject({ node, action: 'start', via: protocol, boot: 'disk' });
      await until(`${node}'s QEMU after the cycle`, () => vmIsOn(state, node), 30_000);
      expect(qemuCmdline(node)).toMatch(/virtio-blk-pci,drive=disk0,bootindex=1/);

      await bmc.off();
      await until(`${node}'s QEMU to be gone`, () => !vmIsOn(state, node), 30_000);
      expect((await bmc.status()).power).toBe('off');

      const mine = readAudit(state).filter(
        (e) => e.node === node && e.action !== 'status' && e.action !== 'boot-status',
      );
      expect(mine.map((e) => e.via)).toEqual(mine.map(() => protocol));
      expect(mine.find((e) => e.action === 'start')).toMatchObject({ boot: 'pxe', result: 'started' });
    } finally {
      await bmc.close();
    }
  }, 300_000);
});

describe('civostack bmc', () => {
  it('reports a wrong password as an authentication error without printing it, and names each node', async () => {
    const wrong = join(dirname(manifest), 'wrong.credentials.yaml');
    writeFileSync(wrong, `username: admin\npassword: ${WRONG_PASSWORD}\n`, { mode: 0o600 });
    const other = join(dirname(manifest), 'wrong.yaml');
    writeFileSync(
      other,
      readFileSync(manifest, 'utf8').replaceAll('lab-bmc.credentials.yaml', 'wrong.credentials.yaml'),
    );
    const r = await civostack(['bmc', 'status', other, '--state-dir', state.path, '--output', 'json']);
    expect(r.exitCode).toBe(1);
    const results = JSON.parse(r.stdout) as { node: string; power: string; error: string }[];
    expect(results.map((x) => [x.node, x.power])).toEqual([
      ['r01-n01', 'unknown'],
      ['r01-n02', 'unknown'],
    ]);
    for (const x of results) expect(x.error).toMatch(/refused the credentials/);
    expect(r.stdout + r.stderr).not.toContain(WRONG_PASSWORD);
  }, 120_000);

  it('reads "unknown" for a BMC whose emulator was killed, and still reports the other', async () => {
    const pid = readPid(join(state.path, 'lab', 'bmc', 'r01-n01', 'sushy-emulator.pid'))!;
    process.kill(pid, 'SIGKILL');
    await until(
      'sushy-emulator to die',
      () => !existsSync(`/proc/${pid}/cmdline`) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'),
      10_000,
    );
    const r = await civostack(['bmc', 'status', manifest, '--state-dir', state.path, '--output', 'json']);
    expect(r.exitCode).toBe(1);
    const results = JSON.parse(r.stdout) as { node: string; power: string; ok: boolean; error?: string }[];
    expect(results.find((x) => x.node === 'r01-n01')).toMatchObject({ power: 'unknown', ok: false });
    expect(results.find((x) => x.node === 'r01-n01')!.error).toMatch(/cannot reach/);
    expect(results.find((x) => x.node === 'r01-n02')).toMatchObject({ power: 'off', ok: true });
    expect(r.stderr).toMatch(/1 of 2 BMC\(s\) failed: r01-n01/);
  }, 120_000);
});
