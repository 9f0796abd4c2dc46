// The lab rehearsal's pieces: a rack in a network namespace, the host's link into it, the boot
// server and dnsmasq inside it. `region up --lab` runs them as phases (src/apply/region-up.ts);
// `labDown` removes every trace.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { bootRuntime, historyFile, readNodeStates, describeState } from '../boot/index.js';
import { UserError } from '../errors.js';
import type { EventSink } from '../events.js';
import { intToIp, ipToInt } from '../manifest/index.js';
import type { Plan } from '../plan/index.js';
import type { StateDir } from '../state/index.js';
import { fabricDown } from './fabric/fabric.js';
import {
  destroyLabNetwork,
  execCommand,
  labNetwork,
  namespacePids,
  probeLabFeatures,
  type LabNetwork,
} from './netns.js';
import { processRunning, readPid } from './process.js';
import { stopVm, tailSerial, vmFiles, vmRunning } from './qemu.js';
import { stopBmcEmulators } from './bmc-emulators.js';
import { stopWatchdog } from './console-watchdog.js';

const CLI = fileURLToPath(new URL('../../bin/civostack', import.meta.url));

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
export function hostLink(plan: Plan): { name: string; peer: string; address: string } {
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

export async function namespaceExists(name: string): Promise<boolean> {
  const r = await execa('ip', ['netns', 'list'], { reject: false });
  return String(r.stdout)
    .split('\n')
    .some((l) => l.split(' ')[0] === name);
}

export async function labNet(plan: Plan): Promise<LabNetwork> {
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

export async function ensureHostLink(
  plan: Plan,
  net: LabNetwork,
  step: (text: string) => void,
): Promise<void> {
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

/** What the lab's boot server (`pxe serve` inside the lab's namespace) is started from. */
export interface LabBootServer {
  readonly manifest: string;
  readonly state: StateDir;
  readonly cacheDir?: string;
}

export async function ensureBootServer(o: LabBootServer, net: LabNetwork, paths: LabPaths): Promise<void> {
  const running = readPid(paths.bootPid);
  if (running !== undefined && processRunning(running)) return;
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
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
    if (child.exitCode !== null || !processRunning(child.pid!)) {
      throw new LabError(`the boot server did not start:\n${tailSerial(paths.bootLog, 15)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new LabError(`the boot server did not start within 2 minutes:\n${tailSerial(paths.bootLog, 15)}`);
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
      running: bootPid !== undefined && processRunning(bootPid),
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
export async function labDown(plan: Plan, state: StateDir, emit: EventSink): Promise<void> {
  const paths = labPaths(state);
  for (const n of plan.nodes) {
    // Its console watchdog first: one that found its machine silent would start it again.
    if (await stopWatchdog(paths.vms, n.name))
      emit({ kind: 'log', code: 'lab.step', target: n.name, message: `${n.name}: console watchdog stopped` });
    const pid = readPid(vmFiles(paths.vms, n.name).pidfile);
    if (pid !== undefined && vmRunning(pid)) {
      await stopVm(pid);
      emit({ kind: 'log', code: 'lab.step', target: n.name, message: `${n.name}: powered off` });
    }
  }
  // The BMC emulators first: an emulator left running could power a machine on again.
  await stopBmcEmulators(plan, state, {
    onEvent: (message) => emit({ kind: 'log', code: 'lab.step', message }),
  });
  const bootPid = readPid(paths.bootPid);
  if (bootPid !== undefined && processRunning(bootPid)) {
    process.kill(bootPid, 'SIGTERM');
    for (let i = 0; i < 100 && processRunning(bootPid); i++) await new Promise((r) => setTimeout(r, 100));
    emit({ kind: 'log', code: 'lab.step', message: 'boot server stopped' });
  }
  const removed = await fabricDown(plan.region.name);
  if (removed > 0)
    emit({ kind: 'log', code: 'lab.step', message: `fabric lab removed (${removed} namespaces)` });
  const net = await labNet(plan);
  await destroyLabNetwork(net);
  await execa('ip', ['link', 'del', hostLink(plan).name], { reject: false });
  emit({ kind: 'log', code: 'lab.step', message: `network namespace ${net.namespace} removed` });
  rmSync(paths.dir, { recursive: true, force: true });
  rmSync(join(state.path, 'nodes.json'), { force: true });
  rmSync(historyFile(state), { force: true });
  rmSync(bootRuntime(state).dir, { recursive: true, force: true });
  rmSync(bootRuntime(state).tftpRoot, { recursive: true, force: true });
  rmSync(bootRuntime(state).httpRoot, { recursive: true, force: true });
  if (existsSync(paths.dir)) throw new LabError(`could not remove ${paths.dir}`);
}
