// The failure drill: every single cable, then every single ToR and border router, taken down in
// turn; reachability and egress re-checked once routing settles; the failure restored and the
// fabric back to every session Established before the next one. And the max-prefix drill.
import type { Exec } from '../netns.js';
import {
  bordersWithEgress,
  checkReach,
  checkSessions,
  checkTorDefaults,
  egressProblems,
  reachTargets,
  type CheckResult,
} from './checks.js';
import type { FabricLab } from './fabric.js';
import { vtysh, vtyshJson } from './frr.js';
import { observe, observeSessions, reachKey, type Observation } from './observe.js';
import { floodPrefixes } from './transit.js';
import type { FabricTopology } from './topology.js';

export interface Failure {
  readonly id: string;
  readonly kind: 'link' | 'device';
  /** Interfaces taken down: [namespace, interface]. */
  readonly ports: readonly (readonly [string, string])[];
  /** Devices counted as gone (their own addresses are not expected to answer). */
  readonly down: ReadonlySet<string>;
}

export interface FailureResult {
  readonly failure: string;
  readonly kind: Failure['kind'];
  /** Time from the failure to the last change in what is reachable (polled, so ± one round of pings). */
  readonly convergenceMs: number;
  /** False when the state still changed at the bound. */
  readonly settled: boolean;
  /** Racks cut off (all or part of their traffic lost), with why. Empty: the fabric survived. */
  readonly cutOff: readonly string[];
  /** Losses that leave every rack reachable another way. */
  readonly degraded: readonly string[];
  /** Time from restoring the failure to the fabric as it was before (sessions, reachability, defaults). */
  readonly restoreMs: number;
  /** False when the fabric was not back as before within two minutes (the next failures may then mislead). */
  readonly restored: boolean;
}

export interface DrillResult {
  readonly passed: boolean;
  readonly wallMs: number;
  readonly failures: readonly FailureResult[];
}

/** Every single failure the drill rehearses: each cable, then each ToR and border router. */
export function failures(t: FabricTopology): Failure[] {
  const ns = new Map(t.devices.map((d) => [d.name, d.namespace]));
  return [
    ...t.links.map((l): Failure => ({
      id: `link ${l.id}`,
      kind: 'link',
      ports: [
        [ns.get(l.a.device)!, l.a.port],
        [ns.get(l.b.device)!, l.b.port],
      ],
      down: new Set(),
    })),
    ...t.devices
      .filter((d) => d.role !== 'transit')
      .map((d): Failure => ({
        id: `device ${d.name}`,
        kind: 'device',
        // A powered-off switch: every cable to it loses carrier.
        ports: d.ports.map((p) => [d.namespace, p.name] as const),
        down: new Set([d.name]),
      })),
  ];
}

/** What a failure did, judged from one observation. Pure. */
export function assess(
  t: FabricTopology,
  o: Observation,
  down: ReadonlySet<string>,
): { cutOff: string[]; degraded: string[] } {
  const cutOff: string[] = [];
  const degraded: string[] = [];
  const targets = reachTargets(t, down);
  const byAddress = new Map<
    string,
    { rack: string; tor: string | undefined; what: string; from: string[]; lost: string[] }
  >();
  for (const x of targets) {
    const e = byAddress.get(x.address) ?? { rack: x.rack, tor: x.tor, what: x.what, from: [], lost: [] };
    (o.reach.get(reachKey(x.border, x.address)) ? e.from : e.lost).push(x.border);
    byAddress.set(x.address, e);
  }
  for (const e of byAddress.values()) {
    if (e.lost.length === 0) continue;
    if (e.from.length === 0)
      cutOff.push(
        e.tor
          ? `rack ${e.rack}: ${e.tor} is unreachable from every border router (its nodes' links to it stay up)`
          : `rack ${e.rack}: ${e.what} is unreachable from every border router`,
      );
    else degraded.push(`${e.what} unreachable from ${e.lost.join(', ')}`);
  }
  const rackOf = new Map(t.racks.flatMap((r) => r.tors.map((x) => [x.name, r.rack] as const)));
  for (const p of egressProblems(t, o, down))
    cutOff.push(`rack ${rackOf.get(p.split(/[ ']/)[0]!) ?? '?'}: ${p}`);
  if (bordersWithEgress(t, o).size === 0) cutOff.push('region: no border router has a transit default');
  return { cutOff: [...new Set(cutOff)].sort(), degraded: degraded.sort() };
}

async function setPorts(exec: Exec, ports: Failure['ports'], state: 'up' | 'down'): Promise<void> {
  await Promise.all(ports.map(([ns, dev]) => exec('ip', ['-n', ns, 'link', 'set', 'dev', dev, state])));
}

async function waitSessions(lab: FabricLab, boundMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    const sessions = await observeSessions(lab.exec, lab.topology, lab.frr);
    if (checkSessions(lab.topology, { sessions, reach: new Map(), defaults: new Map() }).status === 'pass')
      return Date.now() - start;
    if (Date.now() - start > boundMs)
      throw new Error(`the fabric did not recover within ${boundMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** What is wrong with the fabric as a whole, as one comparable string ('' when nothing is). */
async function health(lab: FabricLab): Promise<string> {
  const t = lab.topology;
  const o = await observe(lab.exec, t, lab.frr);
  const problems = [checkSessions(t, o), checkReach(t, o), checkTorDefaults(t, o)]
    .filter((r) => r.status === 'fail')
    .flatMap((r) => r.details);
  return [...problems, ...egressProblems(t, o)].sort().join('\n');
}

/**
 * Until the fabric is back as it was before the failure: every session up and, for a fabric that
 * was already short of something (a manifest under test), the same shortcomings and no new ones.
 */
async function waitRestored(lab: FabricLab, baseline: string, boundMs: number): Promise<number | undefined> {
  const start = Date.now();
  for (;;) {
    if ((await health(lab)) === baseline) return Date.now() - start;
    if (Date.now() - start > boundMs) return undefined;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface DrillOptions {
  /**
   * The state must stay the same this long to count as converged. Longer than FRR's default-originate
   * scanner (every 5 s), which is what withdraws a border's default when its transit goes.
   */
  readonly settleMs?: number;
  /** Give up waiting for convergence after this long. */
  readonly boundMs?: number;
  readonly onEvent?: (text: string) => void;
}

export async function fabricDrill(lab: FabricLab, options: DrillOptions = {}): Promise<DrillResult> {
  const settleMs = options.settleMs ?? 6000;
  const boundMs = options.boundMs ?? 30_000;
  const started = Date.now();
  const results: FailureResult[] = [];
  const baseline = await health(lab);
  for (const f of failures(lab.topology)) {
    await setPorts(lab.exec, f.ports, 'down');
    const t0 = Date.now();
    let last = '';
    let lastChange = 0;
    let verdict = { cutOff: [] as string[], degraded: [] as string[] };
    let settled = false;
    for (;;) {
      const o = await observe(lab.exec, lab.topology, lab.frr, { down: f.down });
      verdict = assess(lab.topology, o, f.down);
      const key = JSON.stringify(verdict);
      const now = Date.now() - t0;
      if (key !== last) {
        last = key;
        lastChange = now;
      } else if (now - lastChange >= settleMs) {
        settled = true;
        break;
      }
      if (now > boundMs) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await setPorts(lab.exec, f.ports, 'up');
    const restored = await waitRestored(lab, baseline, 120_000);
    const restoreMs = restored ?? 120_000;
    const r: FailureResult = {
      failure: f.id,
      kind: f.kind,
      convergenceMs: lastChange,
      settled,
      ...verdict,
      restoreMs,
      restored: restored !== undefined,
    };
    results.push(r);
    options.onEvent?.(
      `drill: ${f.id}: ${r.cutOff.length ? `CUT OFF (${r.cutOff.join('; ')})` : 'survives'}, converged ${(r.convergenceMs / 1000).toFixed(1)} s, restored ${(restoreMs / 1000).toFixed(1)} s`,
    );
  }
  return {
    passed: results.every((r) => r.cutOff.length === 0),
    wallMs: Date.now() - started,
    failures: results,
  };
}

interface NeighborJson {
  [address: string]:
    { bgpState?: string; lastResetDueTo?: string; lastNotificationReason?: string } | undefined;
}

/**
 * One simulator announces more routes than its session's maxPrefixes, then withdraws them. A
 * full-table session must be torn down by the limit; on a default-only session FRR counts only the
 * routes the import policy accepted, so the flood is dropped by policy and the session stays up.
 * Either way nothing of the flood may be accepted; the border is cleared after a trip (the render's
 * restart timer is 15 minutes).
 */
export async function maxPrefixDrill(lab: FabricLab, onEvent?: (text: string) => void): Promise<CheckResult> {
  const s = lab.topology.transits[0];
  const title = 'max-prefix: a transit sending too many routes is stopped';
  if (!s) return { id: 'max-prefix', title, status: 'skip', details: ['no transit session in the manifest'] };
  const sim = lab.frr.get(s.device)!;
  const border = lab.frr.get(s.border)!;
  const peer = s.address.split('/')[0]!;
  const flood = floodPrefixes(s.maxPrefixes + 5);
  const configure = (no: boolean) =>
    vtysh(
      lab.exec,
      sim,
      'configure terminal',
      `router bgp ${s.asn}`,
      'address-family ipv4 unicast',
      ...flood.map((p) => `${no ? 'no ' : ''}network ${p}`),
    );
  onEvent?.(`max-prefix drill: ${s.device} announces ${flood.length} extra routes (limit ${s.maxPrefixes})`);
  await configure(false);
  const deadline = Date.now() + 15_000;
  let tripped = false;
  let state = '';
  let reason = '';
  let acceptedFlood = 0;
  while (Date.now() < deadline) {
    const n = (await vtyshJson<NeighborJson>(lab.exec, border, `show bgp neighbors ${peer} json`))[peer];
    state = n?.bgpState ?? 'unknown';
    reason = n?.lastNotificationReason ?? n?.lastResetDueTo ?? '';
    if (state !== 'Established' && /Maximum Number of Prefixes/i.test(reason)) {
      tripped = true;
      break;
    }
    const routes = await vtyshJson<{ routes?: Record<string, unknown> }>(
      lab.exec,
      border,
      `show bgp ipv4 unicast neighbors ${peer} routes json`,
    );
    acceptedFlood = flood.filter((p) => routes.routes?.[p] !== undefined).length;
    // A default-only session: give the flood time to arrive, then judge.
    if (!s.acceptFullTable && Date.now() > deadline - 10_000) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await configure(true);
  if (tripped) await vtysh(lab.exec, border, `clear bgp ${peer}`);
  const restoreMs = await waitSessions(lab, 120_000);
  onEvent?.(
    `max-prefix drill: ${tripped ? `session torn down (${reason})` : `session ${state}`}; restored in ${(restoreMs / 1000).toFixed(1)} s`,
  );
  const details = s.acceptFullTable
    ? tripped
      ? [
          `${s.border} tore down ${s.name} after ${flood.length} extra routes (limit ${s.maxPrefixes}) (${reason}); cleared and back up in ${(restoreMs / 1000).toFixed(1)} s`,
        ]
      : [
          `${s.border} kept ${s.name} up with ${flood.length} routes > maxPrefixes ${s.maxPrefixes}: the limit did not trip`,
        ]
    : acceptedFlood === 0 && state === 'Established'
      ? [
          `${s.name} is default-only: its import policy dropped all ${flood.length} extra routes, so FRR's limit (it counts accepted routes) was not reached`,
        ]
      : [
          `${s.border} accepted ${acceptedFlood} of ${flood.length} flooded routes from default-only ${s.name} (state ${state})`,
        ];
  const ok = s.acceptFullTable ? tripped : acceptedFlood === 0 && state === 'Established';
  return { id: 'max-prefix', title, status: ok ? 'pass' : 'fail', details };
}
