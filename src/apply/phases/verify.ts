// The end of region up: every node is SSH-ready, or the run fails naming each node that is not
// and why (the others went on and are ready).
import { readNodeStates } from '../../boot/index.js';
import { UserError } from '../../errors.js';
import type { RegionContext } from '../context.js';
import type { Phase } from '../phase.js';

interface Facts {
  readonly notReady: readonly string[];
}

export const verifyPhase: Phase<RegionContext, Facts> = {
  id: 'verify',
  title: 'Every node is SSH-ready',
  observe(ctx) {
    const { nodes } = readNodeStates(ctx.state);
    return Promise.resolve({
      notReady: ctx
        .prepared()
        .plan.nodes.filter((n) => nodes[n.name]?.state !== 'ssh-ready')
        .map((n) => n.name),
    });
  },
  shouldRun: () => true,
  actions: (f) =>
    f.notReady.length === 0
      ? []
      : [{ target: 'region', text: `check the ${f.notReady.length} node(s) not SSH-ready yet are` }],
  run(ctx, _actions, facts) {
    if (facts.notReady.length === 0) return Promise.resolve();
    const total = ctx.prepared().plan.nodes.length;
    const lines = facts.notReady.map(
      (n) => `  ${n}: ${ctx.failures.get(n) ?? 'not SSH-ready (was it left out by --only/--from?)'}`,
    );
    throw new UserError(
      `${facts.notReady.length} of ${total} node(s) are not SSH-ready:\n${lines.join('\n')}`,
      `the ${total - facts.notReady.length} other node(s) are ready; fix the cause and run region up again: finished nodes are not installed again`,
    );
  },
};
