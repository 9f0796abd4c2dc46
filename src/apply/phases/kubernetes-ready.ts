// Every node Ready, through the API at the VIP, each node's state shown as it changes.
import { UserError } from '../../errors.js';
import type { ClusterNode } from '../../kube/api.js';
import { hasKubeconfig, kubeLog, readyNodes } from '../kubernetes.js';
import type { RegionContext } from '../context.js';
import { sleep, type Phase } from '../phase.js';

interface Facts {
  readonly expected: readonly string[];
  readonly notReady: readonly string[];
}

const ID = 'kubernetes-ready';

async function clusterNodes(ctx: RegionContext): Promise<ClusterNode[] | undefined> {
  if (!hasKubeconfig(ctx)) return undefined;
  return ctx
    .cluster()
    .nodes()
    .catch(() => undefined);
}

export const kubernetesReadyPhase: Phase<RegionContext, Facts> = {
  id: ID,
  title: 'Every node Ready',
  async observe(ctx) {
    const expected = readyNodes(ctx).map((n) => n.name);
    const nodes = await clusterNodes(ctx);
    const ready = new Set((nodes ?? []).filter((n) => n.ready).map((n) => n.name));
    return { expected, notReady: expected.filter((n) => !ready.has(n)) };
  },
  shouldRun: (f) => f.notReady.length > 0,
  skipReason: (f) => `all ${f.expected.length} nodes are Ready`,
  actions: (f) => f.notReady.map((n) => ({ target: n, text: 'wait until the node is Ready' })),
  async run(ctx, _actions, facts) {
    const log = kubeLog(ctx, ID);
    const api = ctx.cluster();
    const last = new Map<string, string>();
    const started = ctx.now();
    for (;;) {
      const nodes = await api.nodes().catch((err: Error) => {
        log(`the API at ${api.server} does not answer yet (${err.message.split('\n')[0]})`);
        return [] as ClusterNode[];
      });
      const waiting = facts.expected.filter((name) => !nodes.find((n) => n.name === name)?.ready);
      for (const name of facts.expected) {
        const n = nodes.find((x) => x.name === name);
        const state = !n
          ? 'not registered'
          : n.ready
            ? `Ready (kubelet ${n.kubeletVersion})`
            : `NotReady: ${n.why}`;
        if (last.get(name) !== state) {
          last.set(name, state);
          ctx.emit({ kind: 'log', code: 'kube.node', phase: ID, target: name, message: `${name}: ${state}` });
        }
      }
      if (waiting.length === 0) return;
      if (ctx.now() - started > ctx.nodeTimeoutMs)
        throw new UserError(
          `not Ready within ${Math.round(ctx.nodeTimeoutMs / 60000)} min: ${waiting.map((w) => `${w} (${last.get(w)})`).join(', ')}`,
          'look at the node: journalctl -u kubelet, crictl ps -a; then run region up again',
        );
      await sleep(ctx.pollMs.kube, ctx.signal);
    }
  },
};
