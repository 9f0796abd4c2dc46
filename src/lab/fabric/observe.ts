// Reads the running fabric lab: BGP session states and routes from FRR (vtysh JSON), default
// routes from the kernel, reachability by ping between namespaces. The truth the checks judge.
import type { Exec } from '../netns.js';
import { vtyshJson, type FrrInstance } from './frr.js';
import type { FabricTopology } from './topology.js';

export interface Observation {
  /** device → neighbour address → BGP state ("Established", "Active", …). */
  readonly sessions: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** "border→address" → answered a ping. */
  readonly reach: ReadonlyMap<string, boolean>;
  /** device → gateways of its kernel default route (empty: none). */
  readonly defaults: ReadonlyMap<string, readonly string[]>;
}

interface Summary {
  ipv4Unicast?: { peers?: Record<string, { state?: string }> };
}

interface KernelRoute {
  gateway?: string;
  nexthops?: { gateway?: string }[];
}

export const reachKey = (border: string, address: string) => `${border}→${address}`;

/** Up to `n` promises at a time: two cores are shared, and pings wait on timeouts, not CPU. */
async function limited<T, R>(items: readonly T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const k = next++;
        out[k] = await f(items[k]!);
      }
    }),
  );
  return out;
}

export async function ping(exec: Exec, namespace: string, address: string): Promise<boolean> {
  const r = await exec('ip', ['netns', 'exec', namespace, 'ping', '-n', '-q', '-c', '1', '-W', '1', address]);
  return r.exitCode === 0;
}

export interface ObserveScope {
  /** Devices taken down by the drill: not asked, not pinged from. */
  readonly down?: ReadonlySet<string>;
}

/** BGP session states of every live device. */
export async function observeSessions(
  exec: Exec,
  t: FabricTopology,
  frr: ReadonlyMap<string, FrrInstance>,
  down: ReadonlySet<string> = new Set(),
): Promise<Map<string, Map<string, string>>> {
  const sessions = new Map<string, Map<string, string>>();
  await limited(
    t.devices.filter((d) => !down.has(d.name)),
    4,
    async (d) => {
      const s = await vtyshJson<Summary>(exec, frr.get(d.name)!, 'show bgp summary json');
      sessions.set(
        d.name,
        new Map(Object.entries(s.ipv4Unicast?.peers ?? {}).map(([a, p]) => [a, p.state ?? 'unknown'])),
      );
    },
  );
  return sessions;
}

export async function observe(
  exec: Exec,
  t: FabricTopology,
  frr: ReadonlyMap<string, FrrInstance>,
  scope: ObserveScope = {},
): Promise<Observation> {
  const down = scope.down ?? new Set<string>();
  const live = t.devices.filter((d) => !down.has(d.name));
  const sessions = await observeSessions(exec, t, frr, down);
  const defaults = new Map<string, string[]>();
  await limited(live, 4, async (d) => {
    const r = await exec('ip', ['-n', d.namespace, '-j', 'route', 'show', 'default']);
    const routes = (r.exitCode === 0 && r.stdout.trim() ? JSON.parse(r.stdout) : []) as KernelRoute[];
    defaults.set(
      d.name,
      routes
        .flatMap((x) => [x.gateway, ...(x.nexthops ?? []).map((h) => h.gateway)])
        .filter((g): g is string => !!g)
        .sort(),
    );
  });
  const probes = live
    .filter((d) => d.role === 'border')
    .flatMap((b) =>
      t.racks.flatMap((r) => [
        ...r.tors.filter((x) => !down.has(x.name)).map((x) => ({ border: b, address: x.loopback })),
        ...r.subnets.map((s) => ({ border: b, address: s.address })),
      ]),
    );
  const answers = await limited(probes, 8, (p) => ping(exec, p.border.namespace, p.address));
  const reach = new Map(probes.map((p, k) => [reachKey(p.border.name, p.address), answers[k]!]));
  return { sessions, reach, defaults };
}
