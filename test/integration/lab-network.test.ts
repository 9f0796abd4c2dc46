// The lab network with real parts: a namespace built from the lab plan, real dnsmasq (DHCP + TFTP) and
// an HTTP server inside it, and QEMU VMs (TCG) PXE-booting over it, BIOS through iPXE's NIC ROM and UEFI
// through OVMF's own PXE → TFTP ipxe.efi → iPXE → HTTP, and radvd answering router solicitations on the
// bridge. Needs root (namespaces, taps).
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createLabNetwork,
  destroyLabNetwork,
  execCommand,
  labNetwork,
  probeLabFeatures,
  type LabFeatures,
  type LabNetwork,
} from '../../src/lab/netns.js';
import { startVm, stopVm, tailSerial, vmFiles, vmRunning } from '../../src/lab/qemu.js';
import {
  ensureRouterAdverts,
  routerAdvertPaths,
  routerAdvertsRunning,
} from '../../src/lab/router-adverts.js';
import { loadRegion } from '../../src/manifest/index.js';
import { planRegion, type NodePlan, type Plan } from '../../src/plan/index.js';
import { nodeIpxe } from '../../src/render/boot.js';
import { createEngine } from '../../src/render/engine.js';
import { loadTemplates } from '../../src/templates.js';
import { LAB, tempDir } from '../helpers/manifest.js';

const isRoot = process.getuid?.() === 0;
const haveTools = [
  '/usr/sbin/dnsmasq',
  '/usr/bin/qemu-system-x86_64',
  '/usr/lib/ipxe/ipxe.efi',
  '/usr/share/OVMF/OVMF_CODE_4M.fd',
].every((f) => existsSync(f));
// The brief for CI is TCG (slow but everywhere); CIVO_LAB_ACCEL=kvm tries KVM on a capable host.
const accel = process.env.CIVO_LAB_ACCEL === 'kvm' ? 'kvm' : 'tcg';

function loadPlan(): Plan {
  const loaded = loadRegion(LAB);
  if (!loaded.ok) throw new Error(loaded.diagnostics.map((d) => d.message).join('\n'));
  return planRegion(loaded.region, {}, { prune: false }).plan;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Waits until `path` matches `pattern`; fails with `explain()` (serial tail, logs) on timeout. */
async function waitForLog(
  path: string,
  pattern: RegExp,
  timeoutMs: number,
  explain: () => string,
): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (pattern.test(read(path))) return Date.now() - start;
    await sleep(200);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${pattern} in ${path}\n${explain()}`);
}

async function ns(net: LabNetwork, ...args: string[]): Promise<string> {
  const r = await execa('ip', ['netns', 'exec', net.namespace, ...args], { reject: false });
  if (r.exitCode !== 0) throw new Error(`${args.join(' ')} in ${net.namespace}: ${String(r.stderr)}`);
  return String(r.stdout);
}

interface IpLink {
  ifname: string;
  master?: string;
  mtu: number;
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown>; info_slave_kind?: string };
}

const HTTP_SERVER = `
const http = require('node:http'), fs = require('node:fs'), path = require('node:path');
const [root, host, port, log] = process.argv.slice(1);
http.createServer((req, res) => {
  fs.appendFileSync(log, req.method + ' ' + req.url + ' from ' + req.socket.remoteAddress + '\\n');
  // A boot server going away mid-boot: .reset<path> holds how many more requests to cut off.
  const reset = path.join(root, '.reset' + req.url.split('?')[0].replace(/\\//g, '_'));
  const left = fs.existsSync(reset) ? Number(fs.readFileSync(reset, 'utf8')) : 0;
  if (left > 0) {
    fs.writeFileSync(reset, String(left - 1));
    fs.appendFileSync(log, 'reset ' + req.url + '\\n');
    return req.socket.destroy();
  }
  const file = path.join(root, path.normalize(decodeURIComponent(req.url.split('?')[0])));
  fs.readFile(file, (err, body) => { if (err) { res.statusCode = 404; res.end(); } else res.end(body); });
}).listen(Number(port), host, () => fs.appendFileSync(log, 'listening\\n'));
`;

describe.skipIf(!isRoot || !haveTools)('lab network (namespaces, dnsmasq, QEMU)', () => {
  const plan = loadPlan();
  const dir = tempDir('civostack-lab-');
  const stateDir = join(dir, 'state');
  const logs = {
    dnsmasq: join(dir, 'dnsmasq.log'),
    http: join(dir, 'http.log'),
    dnsmasqOut: join(dir, 'dnsmasq.out'),
  };
  const pids: number[] = [];
  let features: LabFeatures;
  let net: LabNetwork;
  const timings: Record<string, number> = {};

  const node = (firmware: NodePlan['firmware']): NodePlan => {
    const n = plan.nodes.find((x) => x.firmware === firmware);
    if (!n) throw new Error(`the lab has no ${firmware} node`);
    return n;
  };
  const provAddress = (n: NodePlan) =>
    plan.dhcp.find((d) => d.kind === 'node' && d.host === n.name && d.network === 'provisioning')?.address ??
    n.provisioning.address;

  beforeAll(async () => {
    features = await probeLabFeatures(execCommand, `civo-tprobe-${process.pid}`);
    net = labNetwork(plan, `t${process.pid}`, { features });
    const t0 = Date.now();
    await createLabNetwork(net);
    timings.networkSetupMs = Date.now() - t0;
  });

  afterAll(async () => {
    for (const pid of pids) await stopVm(pid, 2000).catch(() => undefined);
    if (net) await destroyLabNetwork(net, execCommand, { graceMs: 2000 });
    console.log(`lab timings: ${JSON.stringify(timings)}; features: ${JSON.stringify(features)}`);
    // Failures carry the serial and server log tails in their message; CIVO_LAB_KEEP=1 keeps the files.
    if (!process.env.CIVO_LAB_KEEP) rmSync(dir, { recursive: true, force: true });
  });

  it('builds the rack from the plan: bridge, taps, bonds, VLANs and addresses', async () => {
    const links = JSON.parse(await ns(net, 'ip', '-d', '-j', 'link', 'show')) as IpLink[];
    const byName = new Map(links.map((l) => [l.ifname, l]));
    const bridge = byName.get(net.bridge.name);
    expect(bridge?.linkinfo?.info_kind).toBe('bridge');
    expect(bridge?.mtu).toBe(9000);

    const addrs = JSON.parse(await ns(net, 'ip', '-j', 'addr', 'show')) as {
      ifname: string;
      addr_info: { local: string; prefixlen: number }[];
    }[];
    const addrOf = (dev: string) =>
      addrs.find((a) => a.ifname === dev)?.addr_info.map((a) => `${a.local}/${a.prefixlen}`) ?? [];
    expect(addrOf(net.bridge.name)).toEqual(expect.arrayContaining(['10.100.0.5/24', '10.100.0.1/24']));

    for (const n of plan.nodes) {
      const port = net.nodes.find((p) => p.node === n.name);
      expect(port?.taps.map((t) => t.mac)).toEqual(n.nics.map((x) => x.mac));
      for (const tap of port?.taps ?? []) {
        const link = byName.get(tap.name);
        expect(link?.linkinfo?.info_kind, tap.name).toBe('tun');
        expect(link?.master).toBe(port?.bond?.name ?? net.bridge.name);
      }
    }

    if (net.mode === 'switched') {
      expect(bridge?.linkinfo?.info_data?.vlan_filtering).toBe(1);
      for (const port of net.nodes) {
        const bond = byName.get(port.bond?.name ?? '');
        expect(bond?.linkinfo?.info_kind).toBe('bond');
        expect(bond?.linkinfo?.info_data?.mode).toBe('802.3ad');
        expect(bond?.linkinfo?.info_data?.ad_lacp_rate).toBe('fast');
        expect(bond?.master).toBe(net.bridge.name);
      }
      const vlans = JSON.parse(await ns(net, 'bridge', '-j', 'vlan', 'show')) as {
        ifname: string;
        vlans: { vlan: number; flags?: string[] }[];
      }[];
      const vlanOf = (dev: string) => vlans.find((v) => v.ifname === dev)?.vlans ?? [];
      for (const dev of [net.bridge.name, ...net.nodes.map((p) => p.bond?.name ?? '')]) {
        expect(vlanOf(dev), dev).toEqual(
          expect.arrayContaining([
            { vlan: 10, flags: ['PVID', 'Egress Untagged'] },
            expect.objectContaining({ vlan: 20 }),
          ]),
        );
      }
      const svi = byName.get(`${net.bridge.name}.20`);
      expect(svi?.linkinfo?.info_kind).toBe('vlan');
      expect(addrOf(`${net.bridge.name}.20`)).toEqual(['10.101.0.1/24']);
    } else {
      // This kernel cannot do bonds/802.1Q: the description says so instead of failing half-way.
      expect(features.bonding && features.vlan && features.vlanFiltering).toBe(false);
      expect(net.limitations.join('\n')).toMatch(/not rehearsed/);
      console.warn(`lab network is flat on this kernel: ${net.limitations.join('; ')}`);
    }

    // Creating again converges without errors.
    await createLabNetwork(net);
  });

  it('answers IPv6 router solicitations on the bridge (radvd): no prefix, no default route', async () => {
    const state = { path: stateDir };
    await ensureRouterAdverts(net, state);
    expect(routerAdvertsRunning(state)).toBe(true);
    const pid = readFileSync(routerAdvertPaths(state).pidfile, 'utf8');
    await ensureRouterAdverts(net, state); // running: left alone
    expect(readFileSync(routerAdvertPaths(state).pidfile, 'utf8')).toBe(pid);

    // A host on the bridge: its kernel solicits a router when its link comes up.
    const client = `civo-tra-${process.pid}`;
    const port = `tra${process.pid % 100000}`;
    const inClient = (...a: string[]) => execa('ip', ['netns', 'exec', client, ...a]);
    await execa('ip', ['netns', 'add', client]);
    try {
      await execa('ip', ['link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
      await execa('ip', ['link', 'set', port, 'netns', net.namespace]);
      await ns(net, 'ip', 'link', 'set', port, 'master', net.bridge.name, 'up');
      if (net.bridge.vlanFiltering)
        await ns(
          net,
          'bridge',
          'vlan',
          'add',
          'vid',
          String(net.bridge.pvid),
          'dev',
          port,
          'pvid',
          'untagged',
        );
      await inClient('ip', 'link', 'set', 'eth0', 'up');
      const received = async () =>
        Number(
          /Icmp6InRouterAdvertisements\s+(\d+)/.exec(
            String((await inClient('cat', '/proc/net/snmp6')).stdout),
          )?.[1],
        );
      const start = Date.now();
      while ((await received()) < 1 && Date.now() - start < 20_000) await sleep(250);
      expect(await received()).toBeGreaterThanOrEqual(1);
      // Nobody's router and no prefix: the host took neither a route nor an address from it.
      expect(String((await inClient('ip', '-6', 'route', 'show', 'default')).stdout)).toBe('');
      expect(
        String((await inClient('ip', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'global')).stdout),
      ).toBe('');
    } finally {
      await execa('ip', ['netns', 'del', client], { reject: false });
    }
  });

  it(
    'PXE-boots a BIOS VM (iPXE ROM → HTTP) and a UEFI VM (OVMF PXE → TFTP ipxe.efi → iPXE → HTTP)',
    { timeout: 200_000 },
    async () => {
      const { bootstrap } = plan;
      const www = join(dir, 'www');
      const tftp = join(dir, 'tftp');
      mkdirSync(www, { recursive: true });
      mkdirSync(tftp, { recursive: true });
      writeFileSync(join(www, 'boot.ipxe'), '#!ipxe\necho hello-from-lab\npoweroff\n');
      copyFileSync('/usr/lib/ipxe/ipxe.efi', join(tftp, 'ipxe.efi'));
      const bios = node('bios');
      const uefi = node('uefi');
      const conf = join(dir, 'dnsmasq.conf');
      writeFileSync(
        conf,
        [
          'port=0',
          `interface=${net.bridge.name}`,
          'bind-interfaces',
          `listen-address=${bootstrap.address}`,
          `dhcp-range=${net.bridge.addresses[0]?.replace(/\/.*/, '')},static,255.255.255.0,10m`,
          ...[bios, uefi].map((n) => `dhcp-host=${n.nics[0]?.mac},${provAddress(n)}`),
          'dhcp-userclass=set:ipxe,iPXE',
          'dhcp-match=set:efi64,option:client-arch,7',
          'dhcp-boot=tag:efi64,tag:!ipxe,ipxe.efi',
          `dhcp-boot=tag:ipxe,${bootstrap.url}/boot.ipxe`,
          'enable-tftp',
          `tftp-root=${tftp}`,
          'log-dhcp',
          `log-facility=${logs.dnsmasq}`,
          'user=root',
          '',
        ].join('\n'),
      );
      spawn(
        'ip',
        ['netns', 'exec', net.namespace, '/usr/sbin/dnsmasq', '--keep-in-foreground', `--conf-file=${conf}`],
        {
          detached: true,
          stdio: 'ignore',
        },
      ).unref();
      spawn(
        'ip',
        [
          'netns',
          'exec',
          net.namespace,
          process.execPath,
          '-e',
          HTTP_SERVER,
          www,
          bootstrap.address,
          String(bootstrap.httpPort),
          logs.http,
        ],
        { detached: true, stdio: 'ignore' },
      ).unref();
      const servers = () =>
        `--- dnsmasq log ---\n${read(logs.dnsmasq).split('\n').slice(-15).join('\n')}\n--- http log ---\n${read(logs.http)}`;
      await waitForLog(logs.http, /listening/, 10_000, servers);
      await waitForLog(logs.dnsmasq, /started|DHCP, static leases/, 10_000, servers);

      const boot = async (
        n: NodePlan,
        steps: { name: string; log: string; pattern: RegExp; timeoutMs: number }[],
      ) => {
        const taps = net.nodes.find((p) => p.node === n.name)?.taps.map((t) => t.name) ?? [];
        const t0 = Date.now();
        const pid = await startVm(n, { accel, taps, stateDir, namespace: net.namespace });
        pids.push(pid);
        const explain = () =>
          `${n.name} (${n.firmware}) serial tail:\n${tailSerial(vmFiles(stateDir, n.name).serial, 20)}\n` +
          `qemu stderr: ${tailSerial(vmFiles(stateDir, n.name).stderr, 5)}\n${servers()}`;
        for (const step of steps) {
          await waitForLog(step.log, step.pattern, step.timeoutMs - (Date.now() - t0), explain);
          timings[`${n.firmware}:${step.name}Ms`] = Date.now() - t0;
        }
        await stopVm(pid, 2000);
        expect(vmRunning(pid)).toBe(false);
      };

      const ack = (n: NodePlan) =>
        new RegExp(
          `DHCPACK\\(${net.bridge.name}\\) ${provAddress(n).replace(/\./g, '\\.')} ${n.nics[0]?.mac}`,
        );
      const get = (n: NodePlan) =>
        new RegExp(`GET /boot\\.ipxe from (::ffff:)?${provAddress(n).replace(/\./g, '\\.')}`);

      await boot(bios, [
        { name: 'dhcpack', log: logs.dnsmasq, pattern: ack(bios), timeoutMs: 60_000 },
        { name: 'httpGet', log: logs.http, pattern: get(bios), timeoutMs: 60_000 },
      ]);
      await boot(uefi, [
        { name: 'dhcpack', log: logs.dnsmasq, pattern: ack(uefi), timeoutMs: 90_000 },
        {
          name: 'tftpIpxeEfi',
          log: logs.dnsmasq,
          pattern: new RegExp(
            `sent ${tftp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/ipxe\\.efi to ${provAddress(uefi).replace(/\./g, '\\.')}`,
          ),
          timeoutMs: 120_000,
        },
        { name: 'httpGet', log: logs.http, pattern: get(uefi), timeoutMs: 130_000 },
      ]);
    },
  );

  it(
    "rides out a boot server that cuts off the installer's download, going round the NICs again",
    { timeout: 360_000 },
    async () => {
      // The dnsmasq and HTTP server of the test above still run in the namespace. The node gets its
      // real rendered script; the "installer" is an iPXE script that fetches a marker and waits.
      const bios = node('bios');
      const www = join(dir, 'www');
      const url = plan.bootstrap.url;
      writeFileSync(join(www, 'boot.ipxe'), nodeIpxe(createEngine(loadTemplates()), plan, bios));
      mkdirSync(join(www, 'installer'), { recursive: true });
      writeFileSync(
        join(www, 'installer/vmlinuz'),
        `#!ipxe\nimgfetch ${url}/installer/fetched ||\nsleep 600\n`,
      );
      writeFileSync(join(www, 'installer/initrd.img'), 'initrd\n');
      writeFileSync(join(www, 'installer/fetched'), 'ok\n');
      // Cut off more downloads than one round over the NICs tries (the first NIC's three attempts;
      // the second NIC gets no lease here). A script without rounds falls to the blank disk, and
      // only the firmware's reboot (a second boot.ipxe) would bring it back.
      const cuts = 4;
      writeFileSync(join(www, '.reset_installer_vmlinuz'), String(cuts));
      const from = read(logs.http).length;
      const taps = net.nodes.find((p) => p.node === bios.name)?.taps.map((t) => t.name) ?? [];
      const pid = await startVm(bios, { accel, taps, stateDir, namespace: net.namespace });
      pids.push(pid);
      const served = () => read(logs.http).slice(from);
      const explain = () => `--- http log since the VM started ---\n${served()}`;
      await waitForLog(logs.http, /GET \/installer\/fetched /, 330_000, explain);
      await stopVm(pid, 2000);
      const lines = served().split('\n');
      expect(
        lines.filter((l) => l === 'reset /installer/vmlinuz'),
        explain(),
      ).toHaveLength(cuts);
      expect(
        lines.filter((l) => l.startsWith('GET /boot.ipxe ')),
        explain(),
      ).toHaveLength(1);
      expect(read(join(www, '.reset_installer_vmlinuz'))).toBe('0');
    },
  );

  it('destroys every trace: namespace, taps, processes', async () => {
    for (const pid of pids) await stopVm(pid, 2000);
    await destroyLabNetwork(net, execCommand, { graceMs: 2000 });
    const list = await execa('ip', ['netns', 'list']);
    expect(String(list.stdout)).not.toContain(net.namespace);
    for (const tap of net.nodes.flatMap((p) => p.taps)) {
      const r = await execa('ip', ['link', 'show', 'dev', tap.name], { reject: false });
      expect(r.exitCode, `${tap.name} still exists in the host`).not.toBe(0);
    }
    for (const pid of pids) expect(vmRunning(pid)).toBe(false);
    expect(routerAdvertsRunning({ path: stateDir }), 'radvd left running').toBe(false);
    // Destroying again is harmless.
    await destroyLabNetwork(net, execCommand, { graceMs: 100 });
  });
});
