// Power: every node not installed yet is set to boot from the network once and powered on (or
// cycled) through its BMC. A node without BMC credentials is named with its MAC for someone to
// power on by hand. A node already on its way (network-booting, installing) is left alone, so a
// re-run after a crash never restarts an install that is going well.
import type { PowerStatus } from '../../bmc/driver.js';
import { isInstalled, readNodeStates, type NodeState } from '../../boot/index.js';
import { failNode, type RegionContext } from '../context.js';
import { eachAction, type Action, type Phase } from '../phase.js';

/** A node network-booting or installing that reported within this long is left to go on. */
export const IN_PROGRESS_MS = 10 * 60_000;

type Step = 'on' | 'cycle' | 'manual' | 'unknown';

interface NodeFacts {
  readonly node: string;
  readonly mac: string;
  readonly state: NodeState | undefined;
  readonly power?: PowerStatus;
  readonly step?: Step;
}

interface Facts {
  readonly nodes: readonly NodeFacts[];
}

function inProgress(s: NodeState | undefined, now: number): boolean {
  return (
    s !== undefined &&
    (s.state === 'dhcp' || s.state === 'ipxe' || s.state === 'installing') &&
    now - Date.parse(s.updatedAt) < IN_PROGRESS_MS
  );
}

function stepFor(s: NodeState | undefined, power: PowerStatus | undefined, now: number): Step | undefined {
  if (isInstalled(s)) return undefined;
  if (power === undefined) return inProgress(s, now) ? undefined : 'manual';
  if (power.power === 'unknown') return 'unknown';
  if (power.power === 'on' && inProgress(s, now)) return undefined;
  return power.power === 'off' ? 'on' : 'cycle';
}

const TEXT: Record<Step, (n: NodeFacts) => string> = {
  on: () => 'boot-next PXE, power on',
  cycle: (n) => `boot-next PXE, power cycle (it is on, ${n.state?.state ?? 'pending'})`,
  manual: (n) => `no BMC credentials: power it on by hand; it boots from the network on NIC ${n.mac}`,
  unknown: (n) => `BMC state unknown (${n.power?.reason ?? 'no answer'}): the node is left out`,
};

export const powerPhase: Phase<RegionContext, Facts, ReadonlyMap<string, number>> = {
  id: 'power',
  title: 'Power on every node not installed yet (boot-next PXE)',
  async observe(ctx) {
    const { nodes: states } = readNodeStates(ctx.state);
    const now = ctx.now();
    const plan = ctx.prepared().plan;
    const out: NodeFacts[] = [];
    for (const n of plan.nodes) {
      if (ctx.failures.has(n.name)) continue;
      const state = states[n.name];
      const driver = isInstalled(state) ? undefined : ctx.power.driver(n.name);
      let power: PowerStatus | undefined;
      if (driver) {
        try {
          power = await driver.status(ctx.signal);
        } catch (err) {
          power = { power: 'unknown', reason: (err as Error).message };
        }
      }
      const step = stepFor(state, power, now);
      out.push({
        node: n.name,
        mac: n.nics[0]?.mac ?? '?',
        state,
        ...(power ? { power } : {}),
        ...(step ? { step } : {}),
      });
    }
    return { nodes: out };
  },
  shouldRun: (f) => f.nodes.some((n) => n.step !== undefined),
  skipReason: (f) =>
    f.nodes.some((n) => !isInstalled(n.state))
      ? 'the nodes not installed yet are already booting'
      : 'every node is installed',
  actions: (f) => f.nodes.filter((n) => n.step).map((n) => ({ target: n.node, text: TEXT[n.step!](n) })),
  async run(ctx, actions, facts) {
    const byNode = new Map(facts.nodes.map((n) => [n.node, n]));
    const poweredAt = new Map<string, number>();
    await eachAction(
      ctx,
      'power',
      actions,
      async (a: Action) => {
        const n = byNode.get(a.target)!;
        const driver = ctx.power.driver(n.node);
        if (n.step === 'unknown' || !driver) {
          if (n.step === 'unknown') failNode(ctx, n.node, TEXT.unknown(n));
          else {
            poweredAt.set(n.node, ctx.now());
            ctx.emit({
              kind: 'warning',
              code: 'power.manual',
              target: n.node,
              message: `${n.node}: ${a.text}`,
            });
          }
          return;
        }
        try {
          await driver.bootNext('pxe', ctx.signal);
          if (n.step === 'on') await driver.on(ctx.signal);
          else await driver.cycle(ctx.signal);
          poweredAt.set(n.node, ctx.now());
        } catch (err) {
          // One BMC failing never stops the others: this node is reported at the end.
          if (ctx.signal.aborted) throw err;
          failNode(ctx, n.node, `power: ${(err as Error).message}`);
        }
      },
      ctx.limiter,
    );
    return poweredAt;
  },
};
