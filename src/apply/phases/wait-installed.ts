// Wait until installed: follows every powered node through DHCP, iPXE and the installer in the
// node store the boot service keeps, each with its own timeout. A node that fails (the installer
// reported it, its BMC says it went off, it ran out of time) is reported with why; the others go on.
import { isInstalled, readNodeStates, type NodeState } from '../../boot/index.js';
import { failNode, type RegionContext } from '../context.js';
import { BOOT_SERVICE, POWERED_AT } from '../outputs.js';
import { sleep, type Phase } from '../phase.js';

interface Facts {
  readonly waiting: readonly string[];
}

/** Emits a node-state event when a node's state or percent changed since the last one. */
export function nodeStateReporter(ctx: RegionContext): (node: string, s: NodeState) => void {
  const shown = new Map<string, string>();
  return (node, s) => {
    const key = `${s.state} ${s.percent ?? ''} ${s.message ?? ''}`;
    if (shown.get(node) === key) return;
    shown.set(node, key);
    ctx.emit({
      kind: 'node-state',
      code: 'node.state',
      node,
      state: s.state,
      ...(s.percent !== undefined ? { percent: s.percent } : {}),
      ...(s.message !== undefined ? { message: s.message } : {}),
    });
  };
}

/** Shows what the nodes' side has to say (the lab: a machine fell back to TCG), as warnings. */
export function reportNotices(ctx: RegionContext): void {
  for (const n of ctx.notices?.() ?? [])
    ctx.emit({ kind: 'warning', code: 'lab.accel-fallback', target: n.node, message: n.message });
}

export function minutes(ms: number): string {
  return `${Math.round(ms / 60_000)} min`;
}

export const waitInstalledPhase: Phase<RegionContext, Facts> = {
  id: 'wait-installed',
  title: 'Wait until every node is installed',
  observe(ctx) {
    const { nodes } = readNodeStates(ctx.state);
    const waiting = ctx
      .prepared()
      .plan.nodes.filter((n) => !isInstalled(nodes[n.name]) && !ctx.failures.has(n.name))
      .map((n) => n.name);
    return Promise.resolve({ waiting });
  },
  shouldRun: (f) => f.waiting.length > 0,
  skipReason: () => 'every node is installed',
  actions: (f, ctx) =>
    f.waiting.map((node) => ({
      target: node,
      text: `wait for DHCP, iPXE and the installer to report installed (timeout ${minutes(ctx.nodeTimeoutMs)})`,
    })),
  async run(ctx, actions) {
    const started = ctx.now();
    // Nodes this run powered: their timeout counts from then; the others' from now.
    const poweredAt = ctx.outputOf(POWERED_AT);
    const waiting = new Set(actions.map((a) => a.target));
    const report = nodeStateReporter(ctx);
    let lastPowerCheck = ctx.now();
    while (waiting.size > 0) {
      reportNotices(ctx);
      const { nodes } = readNodeStates(ctx.state);
      const checkPower = ctx.now() - lastPowerCheck >= ctx.pollMs.power;
      if (checkPower) lastPowerCheck = ctx.now();
      for (const node of [...waiting]) {
        const s = nodes[node];
        const since = poweredAt?.get(node) ?? started;
        // A state written before this node was powered is the last run's (a failure being retried).
        const current = s && Date.parse(s.updatedAt) >= since - 1000 ? s : undefined;
        if (s) report(node, s);
        if (isInstalled(s)) {
          waiting.delete(node);
          continue;
        }
        const why = ctx.diagnose?.(node);
        if (current?.state === 'failed') {
          failNode(ctx, node, `${current.message ?? 'the installer failed'}${why ? `\n${why}` : ''}`);
          waiting.delete(node);
        } else if (ctx.now() - since > ctx.nodeTimeoutMs) {
          failNode(
            ctx,
            node,
            `not installed within ${minutes(ctx.nodeTimeoutMs)} (last: ${s?.state ?? 'pending'})${why ? `\n${why}` : ''}`,
          );
          waiting.delete(node);
        } else if (checkPower) {
          const driver = ctx.power.driver(node);
          const power = driver ? await driver.status(ctx.signal).catch(() => undefined) : undefined;
          if (power?.power === 'off') {
            failNode(ctx, node, `powered off while ${s?.state ?? 'pending'}${why ? `\n${why}` : ''}`);
            waiting.delete(node);
          }
        }
      }
      if (waiting.size === 0) break;
      await ctx.outputOf(BOOT_SERVICE)?.ensureRunning(ctx);
      await sleep(ctx.pollMs.states, ctx.signal);
    }
  },
};
