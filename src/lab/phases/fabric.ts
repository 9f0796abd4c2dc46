// The lab's switches: the fabric lab (a namespace per ToR, border router and transit session, FRR
// with each rendered frr.conf unchanged, an sshd per switch on its management address) started
// when it is not up, and checked, so the `fabric` phase after it reads and pushes the switches
// over SSH exactly as on a rack.
import { UserError } from '../../errors.js';
import { fabricChecks, fabricTopology, fabricUp } from '../fabric/index.js';
import { fabricNamespacesPresent, namespacePrograms } from '../fabric/network.js';
import { fabricUpInputs, unservedSshUsers } from '../fabric/prepared.js';
import { DEFAULT_PREFIX, fabricNamespaces } from '../fabric/topology.js';
import { execCommand } from '../netns.js';
import { committedRegion, type RegionContext } from '../../apply/context.js';
import type { Phase } from '../../apply/phase.js';

interface Facts {
  readonly expected: number;
  /** Namespaces that do not exist. */
  readonly absent: readonly string[];
  /** Namespaces without a program they should run: `<namespace>: no bgpd, sshd`. */
  readonly incomplete: readonly string[];
}

/** Why the fabric phase cannot reach the lab's switches: none of its namespaces exists. */
export async function labFabricDown(ctx: RegionContext): Promise<string | undefined> {
  const ns = fabricNamespaces(DEFAULT_PREFIX, ctx.prepared().plan.region.name);
  if ((await fabricNamespacesPresent(execCommand, ns)).length > 0) return undefined;
  return `the fabric lab is not up (no ${ns}* namespaces): the lab-fabric phase starts it (\`--from lab-fabric\`), as does \`civostack lab fabric ${ctx.manifest} --keep\``;
}

export const labFabricPhase: Phase<RegionContext, Facts> = {
  id: 'lab-fabric',
  title: 'Lab fabric (FRR per ToR, border router and transit; sshd per switch)',
  async observe(ctx) {
    const plan = ctx.prepared().plan;
    const devices = fabricTopology(plan).devices;
    const present = new Set(
      await fabricNamespacesPresent(execCommand, fabricNamespaces(DEFAULT_PREFIX, plan.region.name)),
    );
    // Namespaces alone are not a running lab: a run killed or failed half-way leaves them without
    // FRR or sshd, and the fabric phase after this one could not reach the switches.
    const absent = devices.filter((d) => !present.has(d.namespace)).map((d) => d.namespace);
    const incomplete: string[] = [];
    for (const d of devices.filter((d) => present.has(d.namespace))) {
      const running = await namespacePrograms(execCommand, d.namespace);
      const lacks = ['bgpd', ...(d.role === 'transit' ? [] : ['sshd'])].filter((p) => !running.has(p));
      if (lacks.length > 0) incomplete.push(`${d.namespace}: no ${lacks.join(', ')}`);
    }
    return { expected: devices.length, absent, incomplete };
  },
  shouldRun: (f) => f.absent.length + f.incomplete.length > 0,
  skipReason: (f) => `the fabric lab is up (${f.expected} namespaces, FRR in each, sshd per switch)`,
  actions: (f) => [
    {
      target: 'this host',
      text:
        f.absent.length === f.expected
          ? `start the fabric lab: ${f.expected} namespaces, FRR with the rendered frr.conf, sshd per switch`
          : `start the fabric lab again (${[...f.absent.map((n) => `${n}: missing`), ...f.incomplete].join('; ')}): what is left is cleared first`,
    },
  ],
  async run(ctx) {
    const p = committedRegion(ctx);
    const say = (message: string) =>
      ctx.emit({ kind: 'log', code: 'lab.step', phase: 'lab-fabric', message });
    for (const note of unservedSshUsers(p))
      ctx.emit({ kind: 'warning', code: 'lab.step', phase: 'lab-fabric', message: note });
    const lab = await fabricUp(fabricUpInputs(p, (e) => say(e.text)));
    for (const l of lab.topology.limitations) say(`note: ${l}`);
    const checks = await fabricChecks(lab);
    for (const c of checks)
      say(`check ${c.id}: ${c.status}${c.details.length ? ` (${c.details.join('; ')})` : ''}`);
    const failed = checks.filter((c) => c.status === 'fail');
    if (failed.length > 0)
      throw new UserError(
        `the fabric lab runs, but its checks fail: ${failed.map((c) => `${c.id}: ${c.details.join('; ')}`).join(' / ')}`,
        `it is left running for a look (\`civostack lab fabric ${ctx.manifest} --keep\` prints the table); \`civostack lab down ${ctx.manifest}\` removes it`,
      );
    say(`fabric lab: every BGP session up in ${(lab.sessionsUpMs / 1000).toFixed(1)} s, every check passes`);
  },
};
