// The fabric lab's checks: every planned BGP session up, every rack reachable from every border
// router, default routes where they belong, and the transit policy both ways. Judging is pure
// (an Observation in, results out); gathering routes from FRR is the one impure part here.
import type { Plan } from '../../plan/index.js';
import type { Exec } from '../netns.js';
import { vtyshJson, type FrrInstance } from './frr.js';
import { reachKey, type Observation } from './observe.js';
import { accepted, announcements } from './transit.js';
import type { FabricTopology, TransitSession } from './topology.js';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  readonly id: string;
  readonly title: string;
  readonly status: CheckStatus;
  /** One line per problem (or per fact worth showing when it passes). */
  readonly details: readonly string[];
}

const result = (id: string, title: string, problems: string[], facts: string[] = []): CheckResult => ({
  id,
  title,
  status: problems.length ? 'fail' : 'pass',
  details: problems.length ? problems : facts,
});

/** Every planned session, both sides, and every simulator's session: Established. */
export function checkSessions(
  t: FabricTopology,
  o: Observation,
  down: ReadonlySet<string> = new Set(),
): CheckResult {
  const expected = [
    ...t.sessions,
    ...t.transits.map((s) => ({ device: s.device, peer: s.border, address: s.borderAddress })),
  ].filter((s) => !down.has(s.device) && !down.has(s.peer));
  const problems = expected
    .map((s) => ({ ...s, state: o.sessions.get(s.device)?.get(s.address) ?? 'not configured' }))
    .filter((s) => s.state !== 'Established')
    .map((s) => `${s.device} → ${s.peer} (${s.address}): ${s.state}`);
  return result('sessions', 'every planned BGP session is Established', problems, [
    `${expected.length} sessions`,
  ]);
}

/** Where every border router must reach: each ToR's loopback and each rack's subnets. */
export function reachTargets(t: FabricTopology, down: ReadonlySet<string> = new Set()) {
  const borders = t.devices.filter((d) => d.role === 'border' && !down.has(d.name)).map((d) => d.name);
  return borders.flatMap((border) =>
    t.racks.flatMap((r) => [
      ...r.tors
        .filter((x) => !down.has(x.name))
        .map((x) => ({ border, rack: r.rack, tor: x.name, what: `${x.name} loopback`, address: x.loopback })),
      ...r.subnets.map((s) => ({
        border,
        rack: r.rack,
        tor: undefined,
        what: `${r.rack} ${s.name} ${s.cidr}`,
        address: s.address,
      })),
    ]),
  );
}

export function checkReach(t: FabricTopology, o: Observation): CheckResult {
  const targets = reachTargets(t);
  const problems = targets
    .filter((x) => o.reach.get(reachKey(x.border, x.address)) !== true)
    .map((x) => `${x.border} cannot reach ${x.what} (${x.address})`);
  return result(
    'reachability',
    'every rack loopback and subnet answers pings from both border routers',
    problems,
    [`${targets.length} pings`],
  );
}

/** The border side of each ToR's uplinks: where its default route must point. */
function uplinkPeers(t: FabricTopology, tor: string): { border: string; address: string }[] {
  return t.sessions.filter((s) => s.device === tor).map((s) => ({ border: s.peer, address: s.address }));
}

export function checkTorDefaults(t: FabricTopology, o: Observation): CheckResult {
  const problems: string[] = [];
  for (const tor of t.devices.filter((d) => d.role === 'tor')) {
    const via = new Set(o.defaults.get(tor.name) ?? []);
    for (const p of uplinkPeers(t, tor.name))
      if (!via.has(p.address))
        problems.push(`${tor.name} has no default route via ${p.border} (${p.address})`);
  }
  return result(
    'tor-default',
    'every ToR holds a default route via every border router it is cabled to',
    problems,
  );
}

/** Borders whose kernel default route leads to one of their transit providers. */
export function bordersWithEgress(t: FabricTopology, o: Observation): Set<string> {
  const out = new Set<string>();
  for (const s of t.transits) {
    const peer = s.address.split('/')[0]!;
    if ((o.defaults.get(s.border) ?? []).includes(peer)) out.add(s.border);
  }
  return out;
}

/**
 * Traffic from a rack to the internet goes to whichever border a ToR's default route names: each
 * such border must itself have a way out, or its share of the rack's flows is dropped there.
 */
export function egressProblems(
  t: FabricTopology,
  o: Observation,
  down: ReadonlySet<string> = new Set(),
): string[] {
  const egress = bordersWithEgress(t, o);
  const problems: string[] = [];
  for (const tor of t.devices.filter((d) => d.role === 'tor' && !down.has(d.name))) {
    const via = o.defaults.get(tor.name) ?? [];
    if (via.length === 0) problems.push(`${tor.name} has no default route`);
    for (const p of uplinkPeers(t, tor.name))
      if (via.includes(p.address) && !egress.has(p.border))
        problems.push(`${tor.name}'s default route goes to ${p.border}, which has no transit default`);
  }
  return problems;
}

export function checkEgress(t: FabricTopology, o: Observation): CheckResult {
  const problems = [
    ...t.devices
      .filter((d) => d.role === 'border' && !bordersWithEgress(t, o).has(d.name))
      .map((d) => `${d.name} has no default route from a transit provider`),
    ...egressProblems(t, o),
  ];
  return result('egress', 'every default route leads to a border router with a transit default', problems);
}

interface NeighborRoutes {
  routes?: Record<string, unknown>;
}

/** Prefixes a device holds from one neighbour after its import policy. */
async function routesFrom(exec: Exec, i: FrrInstance, address: string): Promise<string[]> {
  const r = await vtyshJson<NeighborRoutes>(
    exec,
    i,
    `show bgp ipv4 unicast neighbors ${address} routes json`,
  );
  return Object.keys(r.routes ?? {}).sort();
}

export interface TransitRoutes {
  readonly session: TransitSession;
  /** What the simulator received from the border: must be the public aggregates, exactly. */
  readonly exported: readonly string[];
  /** What the border accepted from the simulator. */
  readonly imported: readonly string[];
}

export async function transitRoutes(
  exec: Exec,
  t: FabricTopology,
  frr: ReadonlyMap<string, FrrInstance>,
): Promise<TransitRoutes[]> {
  return Promise.all(
    t.transits.map(async (session) => ({
      session,
      exported: await routesFrom(exec, frr.get(session.device)!, session.borderAddress),
      imported: await routesFrom(exec, frr.get(session.border)!, session.address.split('/')[0]!),
    })),
  );
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().every((x, k) => x === [...b].sort()[k]);

export function checkTransitExport(plan: Plan, routes: readonly TransitRoutes[]): CheckResult {
  // What each border's planned policy announces to transit: the very data its FRR config was rendered from.
  const exportOf = (border: string): string[] =>
    [...(plan.switches.find((s) => s.name === border)?.bgp.policy?.transit?.export ?? [])].sort();
  const all = [...new Set(plan.switches.flatMap((s) => s.bgp.policy?.transit?.export ?? []))].sort();
  const problems = routes
    .filter((r) => !sameSet(r.exported, exportOf(r.session.border)))
    .map((r) => {
      const want = exportOf(r.session.border);
      const extra = r.exported.filter((p) => !want.includes(p));
      const missing = want.filter((p) => !r.exported.includes(p));
      return `${r.session.name} (from ${r.session.border}) received${extra.length ? ` extra ${extra.join(', ')}` : ''}${missing.length ? ` without ${missing.join(', ')}` : ''}`;
    });
  return result('transit-export', 'transit providers receive exactly the public aggregates', problems, [
    all.join(', '),
  ]);
}

export function checkTransitImport(plan: Plan, routes: readonly TransitRoutes[]): CheckResult {
  const all = announcements(plan);
  const kind = new Map(all.map((a) => [a.prefix, a.kind]));
  const problems: string[] = [];
  for (const r of routes) {
    const want = accepted(r.session, all);
    for (const p of r.imported.filter((x) => !want.includes(x)))
      problems.push(
        `${r.session.border} accepted ${p} (${kind.get(p) ?? 'unexpected'}) from ${r.session.name}`,
      );
    for (const p of want.filter((x) => !r.imported.includes(x)))
      problems.push(`${r.session.border} did not accept ${p} from ${r.session.name}`);
  }
  const filtered = all.filter((a) => a.kind !== 'default' && a.kind !== 'internet').map((a) => a.kind);
  return result(
    'transit-import',
    'nothing filtered is accepted from transit (bogons, over-specifics, own and internal prefixes)',
    problems,
    [`${all.length} announced per session, ${new Set(filtered).size} kinds that must be dropped`],
  );
}
