// The fabric rehearsal: the region's ToRs and border routers in network namespaces, cabled as the
// Plan says, running FRR with their rendered frr.conf unchanged, and simulated transit providers.
// `fabricUp` builds it (clearing what an earlier run left), `fabricChecks` judges it, `fabricDown`
// removes it.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../errors.js';
import type { Plan } from '../../plan/index.js';
import { execCommand, type Exec } from '../netns.js';
import {
  checkEgress,
  checkReach,
  checkSessions,
  checkTorDefaults,
  checkTransitExport,
  checkTransitImport,
  transitRoutes,
  type CheckResult,
} from './checks.js';
import { checkFrrInstalled, frrInstance, startFrr, type FrrInstance } from './frr.js';
import { mgmtLinks, mgmtSteps } from './mgmt.js';
import {
  createSteps,
  fabricNamespacesPresent,
  removeMgmtLinks,
  removeNamespaces,
  runSteps,
} from './network.js';
import { startSwitchSshd, type SwitchSshd, type SwitchSshOptions } from './sshd.js';
import { observe, observeSessions } from './observe.js';
import { announcements, transitConfig } from './transit.js';
import { DEFAULT_PREFIX, fabricNamespaces, fabricTopology, type FabricTopology } from './topology.js';

export type FabricEvent = { readonly kind: 'step'; readonly text: string };

export interface FabricLab {
  readonly plan: Plan;
  readonly topology: FabricTopology;
  readonly frr: ReadonlyMap<string, FrrInstance>;
  readonly exec: Exec;
  /** From starting FRR to every planned session Established. */
  readonly sessionsUpMs: number;
  /** Each switch's sshd on its management address, when the lab was asked for them. */
  readonly ssh: readonly SwitchSshd[];
}

export interface FabricUpOptions {
  readonly plan: Plan;
  /** Rendered frr.conf per ToR and border router, exactly as `region render` writes it. */
  readonly configs: ReadonlyMap<string, string>;
  /** The region's secrets by name (transit simulators need the BGP passwords). */
  readonly secret: (name: string) => string;
  readonly prefix?: string;
  readonly exec?: Exec;
  readonly sessionTimeoutMs?: number;
  readonly onEvent?: (e: FabricEvent) => void;
  /** An sshd per ToR and border router on its management address (see sshd.ts). */
  readonly ssh?: SwitchSshOptions;
}

/** Where FRR's sockets, pid files and logs of one region's fabric lab live. */
export function fabricRunRoot(prefix: string, region: string): string {
  return join('/run', prefix, region);
}

export class FabricLabError extends UserError {}

export async function fabricUp(o: FabricUpOptions): Promise<FabricLab> {
  const exec = o.exec ?? execCommand;
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  const step = (text: string) => o.onEvent?.({ kind: 'step', text });
  await checkFrrInstalled(exec);
  const t = fabricTopology(o.plan, { prefix });
  for (const l of t.limitations) step(`note: ${l}`);

  const left = await fabricNamespacesPresent(exec, fabricNamespaces(prefix, t.region));
  if (left.length > 0) {
    step(`removing the fabric lab an earlier run left: ${left.length} namespaces (${left[0]} …)`);
    await removeNamespaces(exec, left);
  }
  await removeMgmtLinks(exec, fabricNamespaces(prefix, t.region));
  const runRoot = fabricRunRoot(prefix, t.region);
  rmSync(runRoot, { recursive: true, force: true });

  step(`network: ${t.devices.length} namespaces, ${t.links.length} cables`);
  await runSteps(exec, createSteps(t));

  const all = announcements(o.plan);
  const frr = new Map<string, FrrInstance>();
  const started = Date.now();
  // Three devices at a time: starting FRR is mostly waiting on forks and sockets.
  const queue = [...t.devices];
  const startOne = async (d: (typeof t.devices)[number]) => {
    const i = frrInstance(runRoot, d.name, d.namespace);
    frr.set(d.name, i);
    let config: string;
    if (d.role === 'transit') {
      const s = t.transits.find((x) => x.device === d.name)!;
      config = transitConfig(s, all, o.secret(s.passwordSecret));
    } else {
      const c = o.configs.get(d.name);
      if (c === undefined) throw new FabricLabError(`no rendered frr.conf for ${d.name}`);
      config = c;
    }
    const complaints = await startFrr(exec, i, config);
    if (complaints.length > 0)
      throw new FabricLabError(
        `FRR refused part of ${d.name}'s ${d.role === 'transit' ? 'simulator config' : 'rendered frr.conf'}:\n  ${complaints.join('\n  ')}`,
        'the render produced a line this FRR does not accept: fix the template in templates/frr/',
      );
  };
  await Promise.all(
    [0, 1, 2].map(async () => {
      for (let d = queue.shift(); d; d = queue.shift()) await startOne(d);
    }),
  );
  step(`FRR: zebra, staticd and bgpd running in ${t.devices.length} namespaces`);

  const ssh: SwitchSshd[] = [];
  if (o.ssh) {
    const links = mgmtLinks(o.plan, t);
    await runSteps(exec, mgmtSteps(links));
    for (const l of links) ssh.push(await startSwitchSshd(exec, o.ssh, l, frr.get(l.device)!));
    step(
      `sshd on every switch's management address (${links.map((l) => `${l.device} ${l.address}`).join(', ')}), host keys pinned`,
    );
  }

  const lab = { plan: o.plan, topology: t, frr, exec, sessionsUpMs: 0, ssh };
  const bound = o.sessionTimeoutMs ?? 120_000;
  for (;;) {
    const sessions = await observeSessions(exec, t, frr);
    const r = checkSessions(t, { sessions, reach: new Map(), defaults: new Map() });
    if (r.status === 'pass') break;
    if (Date.now() - started > bound)
      throw new FabricLabError(
        `BGP sessions not Established within ${Math.round(bound / 1000)} s:\n  ${r.details.join('\n  ')}`,
        `FRR's logs are in ${runRoot}/<device>/bgpd.log`,
      );
    await new Promise((res) => setTimeout(res, 250));
  }
  const sessionsUpMs = Date.now() - started;
  step(`every BGP session Established after ${(sessionsUpMs / 1000).toFixed(1)} s`);
  return { ...lab, sessionsUpMs };
}

/** The steady-state checks (no failure injected), after routes settle. */
export async function fabricChecks(lab: FabricLab, settleMs = 15_000): Promise<CheckResult[]> {
  const { exec, topology: t, frr, plan } = lab;
  // Sessions are up, yet routes may still be on their way: poll until the checks pass or time is up.
  const deadline = Date.now() + settleMs;
  for (;;) {
    const o = await observe(exec, t, frr);
    const routes = await transitRoutes(exec, t, frr);
    const results = [
      checkSessions(t, o),
      checkReach(t, o),
      checkTorDefaults(t, o),
      checkEgress(t, o),
      checkTransitExport(plan, routes),
      checkTransitImport(plan, routes),
    ];
    if (results.every((r) => r.status === 'pass') || Date.now() > deadline) return results;
    await new Promise((res) => setTimeout(res, 500));
  }
}

/** Removes every namespace, FRR and sshd process and management link of the region's fabric lab, and its runtime folder. */
export async function fabricDown(
  region: string,
  options: { prefix?: string; exec?: Exec } = {},
): Promise<number> {
  const exec = options.exec ?? execCommand;
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const present = await fabricNamespacesPresent(exec, fabricNamespaces(prefix, region));
  await removeNamespaces(exec, present);
  await removeMgmtLinks(exec, fabricNamespaces(prefix, region));
  rmSync(fabricRunRoot(prefix, region), { recursive: true, force: true });
  return present.length;
}
