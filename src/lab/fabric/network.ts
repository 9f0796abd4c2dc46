// Builds and removes the fabric lab's namespaces and cables with iproute2: commands as data first
// (createSteps), then run. Deleting a namespace takes its veths with it.
import { readFileSync } from 'node:fs';
import { namespacePids, type Exec, type LabStep } from '../netns.js';
import type { FabricTopology } from './topology.js';

const EXISTS = /File exists|resource busy/i;

export function createSteps(t: FabricTopology): LabStep[] {
  const ns = new Map(t.devices.map((d) => [d.name, d.namespace]));
  const steps: LabStep[] = [];
  for (const d of t.devices) {
    const ip = (...a: string[]): LabStep['argv'] => ['ip', '-n', d.namespace, ...a];
    steps.push(
      { argv: ['ip', 'netns', 'add', d.namespace], tolerate: EXISTS },
      { argv: ip('link', 'set', 'dev', 'lo', 'up') },
      // A switch routes; a fresh namespace does not. Reverse-path filtering would drop the
      // asymmetric paths ECMP and the drill's failures create.
      { argv: ['ip', 'netns', 'exec', d.namespace, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'] },
      { argv: ['ip', 'netns', 'exec', d.namespace, 'sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0'] },
      { argv: ['ip', 'netns', 'exec', d.namespace, 'sysctl', '-qw', 'net.ipv4.fib_multipath_hash_policy=1'] },
    );
    // Loopback0 and the SVIs: a veth pair inside the namespace, because kernels without the dummy
    // module exist (this lab host is one) and zebra counts only an interface with carrier as up.
    for (const dummy of d.dummies) {
      const stub = `${dummy.name}-s`;
      steps.push({
        argv: ip('link', 'add', dummy.name, 'type', 'veth', 'peer', 'name', stub),
        tolerate: EXISTS,
      });
      for (const a of dummy.addresses) steps.push({ argv: ip('addr', 'replace', a, 'dev', dummy.name) });
      steps.push(
        { argv: ip('link', 'set', 'dev', stub, 'up') },
        { argv: ip('link', 'set', 'dev', dummy.name, 'up') },
      );
    }
  }
  for (const l of t.links) {
    steps.push({
      argv: [
        'ip',
        'link',
        'add',
        l.a.port,
        'netns',
        ns.get(l.a.device)!,
        'type',
        'veth',
        'peer',
        'name',
        l.b.port,
        'netns',
        ns.get(l.b.device)!,
      ],
      tolerate: EXISTS,
    });
  }
  for (const d of t.devices) {
    for (const p of d.ports) {
      if (p.address)
        steps.push({ argv: ['ip', '-n', d.namespace, 'addr', 'replace', p.address, 'dev', p.name] });
      steps.push({ argv: ['ip', '-n', d.namespace, 'link', 'set', 'dev', p.name, 'up'] });
    }
  }
  return steps;
}

export async function runSteps(exec: Exec, steps: readonly LabStep[]): Promise<void> {
  for (const step of steps) {
    const [file, ...args] = step.argv;
    const r = await exec(file, args);
    if (r.exitCode === 0 || step.tolerate?.test(r.stderr)) continue;
    throw new Error(`${step.argv.join(' ')} failed: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  }
}

/** Every namespace of this region's fabric lab on this host, whatever manifest made it. */
export async function fabricNamespacesPresent(exec: Exec, prefix: string): Promise<string[]> {
  const r = await exec('ip', ['netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(prefix))
    .sort();
}

/** The programs running in a namespace, by name (`/proc/<pid>/comm`: bgpd, sshd, …). */
export async function namespacePrograms(exec: Exec, namespace: string): Promise<Set<string>> {
  const names = new Set<string>();
  for (const pid of await namespacePids(exec, namespace))
    try {
      names.add(readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
    } catch {
      // gone between the listing and the read
    }
  return names;
}

/** Stops what runs in each namespace (FRR, sshd), then deletes it. Tolerates what is already gone. */
export async function removeNamespaces(
  exec: Exec,
  namespaces: readonly string[],
  graceMs = 3000,
): Promise<void> {
  const pids = (await Promise.all(namespaces.map((n) => namespacePids(exec, n)))).flat();
  if (pids.length > 0) {
    await exec('kill', ['-TERM', ...pids]);
    let left = pids;
    for (let waited = 0; waited < graceMs && left.length > 0; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
      left = (await Promise.all(namespaces.map((n) => namespacePids(exec, n)))).flat();
    }
    if (left.length > 0) await exec('kill', ['-KILL', ...left]);
  }
  for (const n of namespaces) await exec('ip', ['netns', 'del', n]);
}

/**
 * Host ends of management links (mgmt.ts) whose alias names one of this region's namespaces.
 * Deleting a namespace takes its veths with it, but the kernel frees them a moment later, and a
 * run killed between creating a pair and moving its end leaves the host end alone: both are
 * deleted here, and waited for.
 */
export async function removeMgmtLinks(exec: Exec, prefix: string, boundMs = 5000): Promise<void> {
  const left = async (): Promise<string[]> => {
    const r = await exec('ip', ['-j', 'link', 'show']);
    const links = (r.exitCode === 0 && r.stdout.trim() ? JSON.parse(r.stdout) : []) as {
      ifname: string;
      ifalias?: string;
    }[];
    return links.filter((l) => l.ifalias?.startsWith(prefix)).map((l) => l.ifname.split('@')[0]!);
  };
  for (let waited = 0; ; waited += 100) {
    const links = await left();
    if (links.length === 0) return;
    if (waited >= boundMs) throw new Error(`management links ${links.join(', ')} are still there`);
    for (const l of links) await exec('ip', ['link', 'del', l]);
    await new Promise((r) => setTimeout(r, 100));
  }
}
