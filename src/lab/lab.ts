// The lab rehearsal: a rack in a network namespace, the boot server and dnsmasq inside it, one
// QEMU machine per node, watched from power-on to an SSH login whose host key the installer
// reported. `labUp` is idempotent (what runs is kept); `labDown` removes every trace.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { bootRuntime, NodeStore, readNodeStates, describeState, type NodeState } from '../boot/index.js';
import { UserError } from '../errors.js';
import { intToIp, ipToInt } from '../manifest/index.js';
import type { Plan } from '../plan/index.js';
import { sshExec } from '../remote/index.js';
import { sshPrivateKeyPath, type StateDir } from '../state/index.js';
import { labArtifacts } from './artifacts.js';
import { fabricDown } from './fabric/fabric.js';
import {
  createLabNetwork,
  destroyLabNetwork,
  execCommand,
  labNetwork,
  namespacePids,
  probeLabFeatures,
  type LabNetwork,
} from './netns.js';
import { detectAccel, readPid, startVm, stopVm, tailSerial, vmFiles, vmRunning } from './qemu.js';

const CLI = fileURLToPath(new URL('../../bin/civostack', import.meta.url));

export type LabEvent =
  | { readonly kind: 'step'; readonly text: string }
  | { readonly kind: 'node'; readonly node: string; readonly text: string };

export class LabError extends UserError {}

export interface LabPaths {
  readonly dir: string;
  readonly vms: string;
  readonly bootLog: string;
  readonly bootPid: string;
}

export function labPaths(state: StateDir): LabPaths {
  const dir = join(state.path, 'lab');
  return {
    dir,
    vms: join(dir, 'vms'),
    bootLog: join(dir, 'boot-server.log'),
    bootPid: join(dir, 'boot-server.pid'),
  };
}

/** The host's leg on the lab's provisioning network, so civostack can reach the nodes by SSH. */
function hostLink(plan: Plan): { name: string; peer: string; address: string } {
  const rack = plan.racks.find((r) => r.name === plan.bootstrap.rack)!;
  const base = ipToInt(rack.provisioning.cidr.split('/')[0]!);
  const tag = createHash('sha256').update(plan.region.name).digest('hex').slice(0, 6);
  // Offset 4 of the bootstrap rack's provisioning subnet: kept for infrastructure by the planner.
  return {
    name: `civo-h-${tag}`,
    peer: 'hostlink',
    address: `${intToIp(base + 4)}/${rack.provisioning.prefix}`,
  };
}

async function namespaceExists(name: string): Promise<boolean> {
  const r = await execa('ip', ['netns', 'list'], { reject: false });
  return String(r.stdout)
    .split('\n')
    .some((l) => l.split(' ')[0] === name);
}

async function labNet(plan: Plan): Promise<LabNetwork> {
  return labNetwork(plan, plan.region.name, { features: await probeLabFeatures() });
}

/** A route on this host that covers `subnet`, with the interface it goes out of. */
async function routeTo(subnet: string): Promise<{ line: string; dev?: string } | undefined> {
  const r = await execa('ip', ['-o', 'route', 'show', 'to', 'match', subnet.split('/')[0]!], {
    reject: false,
  });
  const line = String(r.stdout)
    .split('\n')
    .find((l) => l.startsWith(subnet));
  if (!line) return undefined;
  const dev = / dev (\S+)/.exec(line)?.[1];
  return dev ? { line: line.trim(), dev } : { line: line.trim() };
}

/** The namespace at the other end of a host veth, when it has a name. */
async function peerNamespace(dev: string): Promise<string | undefined> {
  const link = await execa('ip', ['-j', 'link', 'show', 'dev', dev], { reject: false });
  if (link.exitCode !== 0) return undefined;
  const id = (JSON.parse(String(link.stdout)) as { link_netnsid?: number }[])[0]?.link_netnsid;
  if (id === undefined) return undefined;
  const list = await execa('ip', ['-j', 'netns', 'list'], { reject: false });
  const spaces = String(list.stdout).trim()
    ? (JSON.parse(String(list.stdout)) as { name: string; id?: number }[])
    : [];
  return spaces.find((n) => n.id === id)?.name;
}

/**
 * Makes sure the bootstrap subnet is free on this host. A lab that a killed run left behind (its host
 * link and namespace still there, no process left in it: no boot server, no machine) holds the subnet
 * but serves nothing: it is removed, and said so. A live lab or any other route is an error.
 */
export async function claimLabSubnet(subnet: string, step: (text: string) => void): Promise<void> {
  const route = await routeTo(subnet);
  if (!route) return;
  const peer = route.dev?.startsWith('civo-h-') ? await peerNamespace(route.dev) : undefined;
  if (!route.dev || !peer?.startsWith('civo-')) {
    throw new LabError(
      `this host already routes ${subnet} (${route.line})`,
      'the lab puts the host on that network: give the lab manifest other addresses, or remove that route',
    );
  }
  const pids = await namespacePids(execCommand, peer);
  if (pids.length > 0) {
    throw new LabError(
      `another lab (network namespace ${peer}, host link ${route.dev}) is running on ${subnet}: processes ${pids.join(', ')}`,
      `stop it with \`civostack lab down <its manifest>\`, or give this lab other addresses`,
    );
  }
  step(`network namespace ${peer}: an abandoned lab (nothing runs in it) holds ${subnet}: removing it`);
  await execa('ip', ['link', 'del', 'dev', route.dev], { reject: false });
  await execa('ip', ['netns', 'del', peer], { reject: false });
  const still = await routeTo(subnet);
  if (still) throw new LabError(`could not free ${subnet} on this host (${still.line})`);
}

async function ensureHostLink(plan: Plan, net: LabNetwork, step: (text: string) => void): Promise<void> {
  const link = hostLink(plan);
  const exists = (await execa('ip', ['link', 'show', link.name], { reject: false })).exitCode === 0;
  if (exists) return;
  await claimLabSubnet(plan.racks.find((r) => r.name === plan.bootstrap.rack)!.provisioning.cidr, step);
  const ip = (...args: string[]) => execa('ip', args);
  await ip('link', 'add', link.name, 'type', 'veth', 'peer', 'name', link.peer, 'netns', net.namespace);
  await ip('-n', net.namespace, 'link', 'set', link.peer, 'master', net.bridge.name);
  if (net.bridge.vlanFiltering) {
    await execa('ip', [
      'netns',
      'exec',
      net.namespace,
      'bridge',
      'vlan',
      'add',
      'vid',
      String(net.bridge.pvid),
      'dev',
      link.peer,
      'pvid',
      'untagged',
    ]);
  }
  await ip('-n', net.namespace, 'link', 'set', link.peer, 'up');
  await ip('addr', 'add', link.address, 'dev', link.name);
  await ip('link', 'set', link.name, 'up');
}

async function ensureBootServer(o: LabUpOptions, net: LabNetwork, paths: LabPaths): Promise<void> {
  const running = readPid(paths.bootPid);
  if (running !== undefined && vmRunning(running)) return;
  const log = openSync(paths.bootLog, 'a');
  const args = [
    'netns',
    'exec',
    net.namespace,
    process.execPath,
    CLI,
    'pxe',
    'serve',
    o.manifest,
    '--state-dir',
    o.state.path,
  ];
  if (o.cacheDir) args.push('--cache-dir', o.cacheDir);
  const child = spawn('ip', args, {
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, NO_COLOR: '1' },
  });
  closeSync(log);
  child.unref();
  writeFileSync(paths.bootPid, `${child.pid}\n`);
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (/boot server on http/.test(tailSerial(paths.bootLog, 50))) return;
    if (child.exitCode !== null || !vmRunning(child.pid!)) {
      throw new LabError(`the boot server did not start:\n${tailSerial(paths.bootLog, 15)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new LabError(`the boot server did not start within 2 minutes:\n${tailSerial(paths.bootLog, 15)}`);
}

/**
 * What makes a node ssh-ready: it answers SSH with the host key its installer reported, it is the
 * node we think (its seed's node.json), and cloud-init has finished the first boot. Before that,
 * cloud-init may still restart sshd (set_passwords rewrites sshd_config), so a login that worked
 * once could be refused a second later.
 */
const READY_CHECK = 'test -e /var/lib/cloud/instance/boot-finished && cat /etc/civostack/node.json';

export interface LabUpOptions {
  readonly manifest: string;
  readonly plan: Plan;
  readonly state: StateDir;
  readonly cacheDir?: string;
  /** Give up when not every node is SSH-ready by then. */
  readonly timeoutMs: number;
  readonly onEvent: (e: LabEvent) => void;
}

export interface LabUpResult {
  /** For each node, seconds from `lab up` until it first reached each state. */
  readonly timeline: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly accel: string;
}

export async function labUp(o: LabUpOptions): Promise<LabUpResult> {
  const started = Date.now();
  const paths = labPaths(o.state);
  mkdirSync(paths.vms, { recursive: true });
  const step = (text: string) => o.onEvent({ kind: 'step', text });

  step('installer and lab OS image: building or reusing the cached ones');
  await labArtifacts(o.plan, o.cacheDir, (line) => step(line));

  const net = await labNet(o.plan);
  for (const l of net.limitations) step(`note: ${l}`);
  if (!(await namespaceExists(net.namespace))) step(`network namespace ${net.namespace}: creating`);
  await createLabNetwork(net);
  await ensureHostLink(o.plan, net, step);

  step('boot server and dnsmasq: starting inside the namespace');
  await ensureBootServer(o, net, paths);

  const accel = await detectAccel();
  step(`virtual machines: ${accel === 'kvm' ? 'KVM' : 'software emulation (TCG)'}`);
  const ports = new Map(net.nodes.map((p) => [p.node, p]));
  const nodes = o.plan.nodes.filter((n) => ports.has(n.name));
  for (const node of nodes) {
    const files = vmFiles(paths.vms, node.name);
    const pid = readPid(files.pidfile);
    if (pid !== undefined && vmRunning(pid)) continue;
    await startVm(node, {
      accel,
      taps: ports.get(node.name)!.taps.map((t) => t.name),
      stateDir: paths.vms,
      namespace: net.namespace,
      memoryMiB: 1024,
    });
    o.onEvent({ kind: 'node', node: node.name, text: 'powered on' });
  }

  const store = new NodeStore(o.state, o.plan.nodes);
  const timeline: Record<string, Record<string, number>> = Object.fromEntries(
    nodes.map((n) => [n.name, { 'powered-on': 0 }]),
  );
  const shown = new Map<string, string>();
  const lastTry = new Map<string, number>();
  const failed = new Map<string, string>();
  const keyFile = sshPrivateKeyPath(o.state);
  while (true) {
    const { nodes: states } = readNodeStates(o.state);
    let ready = 0;
    for (const node of nodes) {
      const s: NodeState | undefined = states[node.name];
      const files = vmFiles(paths.vms, node.name);
      if (s) {
        const text = describeState(s);
        if (shown.get(node.name) !== text) {
          shown.set(node.name, text);
          o.onEvent({ kind: 'node', node: node.name, text });
        }
        timeline[node.name]![s.state] ??= Math.round((Date.now() - started) / 1000);
      }
      if (s?.state === 'ssh-ready') {
        ready++;
        continue;
      }
      if (s?.state === 'failed') {
        // A failed node stops only itself: the others go on, and it is reported at the end.
        failed.set(
          node.name,
          `${node.name} failed: ${s.message ?? ''}\n--- last lines of ${files.serial}\n${tailSerial(files.serial, 25)}`,
        );
        continue;
      }
      const pid = readPid(files.pidfile);
      if (pid === undefined || !vmRunning(pid)) {
        throw new LabError(
          `${node.name}'s machine stopped while ${s ? describeState(s) : 'pending'}\n--- last lines of ${files.serial}\n${tailSerial(files.serial, 25)}`,
        );
      }
      // UEFI nodes boot their disk without asking iPXE again: they stay "installed" until SSH answers.
      if (
        (s?.state === 'booted-from-disk' || s?.state === 'installed') &&
        s.hostKeys?.length &&
        Date.now() - (lastTry.get(node.name) ?? 0) > 5000
      ) {
        lastTry.set(node.name, Date.now());
        try {
          const r = await sshExec(
            {
              host: node.provisioning.address,
              username: 'root',
              privateKeyFile: keyFile,
              knownHostKeys: s.hostKeys,
              timeoutMs: 8000,
            },
            READY_CHECK,
          );
          const id = r.code === 0 ? (JSON.parse(r.stdout) as { node?: string }).node : undefined;
          if (id === node.name) store.apply(node.name, { kind: 'ssh-ready' });
        } catch {
          // Not up yet (sshd starting): tried again in a few seconds.
        }
      }
    }
    if (ready + failed.size === nodes.length) {
      if (failed.size > 0)
        throw new LabError(
          [...failed.values()].join('\n'),
          `${ready} other node(s) are SSH-ready; fix the cause and run lab up again to retry`,
        );
      return { timeline, accel };
    }
    // The boot server is supervised: if it died, start it again; node states are on disk, so
    // finished nodes are not installed again.
    const bootPid = readPid(paths.bootPid);
    if (bootPid === undefined || !vmRunning(bootPid)) {
      step('boot server is not running: starting it again');
      await ensureBootServer(o, net, paths);
    }
    if (Date.now() - started > o.timeoutMs) {
      const report = nodes.map((n) => `  ${n.name}: ${shown.get(n.name) ?? 'pending'}`).join('\n');
      const slow = nodes.find((n) => states[n.name]?.state !== 'ssh-ready')!;
      throw new LabError(
        `not every node was SSH-ready within ${Math.round(o.timeoutMs / 60000)} min:\n${report}\n--- last lines of ${slow.name}'s console\n${tailSerial(vmFiles(paths.vms, slow.name).serial, 25)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

export interface LabStatus {
  readonly namespace: string;
  readonly network: boolean;
  readonly bootServer: { readonly running: boolean; readonly pid?: number };
  readonly nodes: readonly {
    readonly node: string;
    readonly vm: 'running' | 'stopped';
    readonly state: string;
  }[];
}

export async function labStatus(plan: Plan, state: StateDir): Promise<LabStatus> {
  const paths = labPaths(state);
  const net = labNetwork(plan, plan.region.name);
  const bootPid = readPid(paths.bootPid);
  const { nodes } = readNodeStates(state);
  return {
    namespace: net.namespace,
    network: await namespaceExists(net.namespace),
    bootServer: {
      running: bootPid !== undefined && vmRunning(bootPid),
      ...(bootPid ? { pid: bootPid } : {}),
    },
    nodes: plan.nodes.map((n) => {
      const pid = readPid(vmFiles(paths.vms, n.name).pidfile);
      const s = nodes[n.name];
      return {
        node: n.name,
        vm: pid !== undefined && vmRunning(pid) ? 'running' : 'stopped',
        state: s ? describeState(s) : 'pending',
      };
    }),
  };
}

/** Stops every machine and the boot server, removes the namespace, the host link and the lab's files. */
export async function labDown(plan: Plan, state: StateDir, onEvent: (e: LabEvent) => void): Promise<void> {
  const paths = labPaths(state);
  for (const n of plan.nodes) {
    const pid = readPid(vmFiles(paths.vms, n.name).pidfile);
    if (pid !== undefined && vmRunning(pid)) {
      await stopVm(pid);
      onEvent({ kind: 'node', node: n.name, text: 'powered off' });
    }
  }
  const bootPid = readPid(paths.bootPid);
  if (bootPid !== undefined && vmRunning(bootPid)) {
    process.kill(bootPid, 'SIGTERM');
    for (let i = 0; i < 100 && vmRunning(bootPid); i++) await new Promise((r) => setTimeout(r, 100));
    onEvent({ kind: 'step', text: 'boot server stopped' });
  }
  const removed = await fabricDown(plan.region.name);
  if (removed > 0) onEvent({ kind: 'step', text: `fabric lab removed (${removed} namespaces)` });
  const net = await labNet(plan);
  await destroyLabNetwork(net);
  await execa('ip', ['link', 'del', hostLink(plan).name], { reject: false });
  onEvent({ kind: 'step', text: `network namespace ${net.namespace} removed` });
  rmSync(paths.dir, { recursive: true, force: true });
  rmSync(join(state.path, 'nodes.json'), { force: true });
  rmSync(bootRuntime(state).dir, { recursive: true, force: true });
  rmSync(bootRuntime(state).tftpRoot, { recursive: true, force: true });
  if (existsSync(paths.dir)) throw new LabError(`could not remove ${paths.dir}`);
}
