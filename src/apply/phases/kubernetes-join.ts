// Further control planes join one at a time, each waited for until it counts for quorum (etcd: a
// voting member, not a learner), so quorum is never at risk; then workers join in parallel
// within --concurrency. What joining means is the distribution's (src/apply/distribution.ts).
import { UserError } from '../../errors.js';
import { controlPlaneOrder, isControlPlane } from '../../kube/kubeadm-render.js';
import type { NodePlan } from '../../plan/index.js';
import { allOrThrow, fanOut } from '../../remote/index.js';
import type { RegionContext } from '../context.js';
import { distributionOf } from '../distribution.js';
import { kubeLog, readyNodes } from '../kubernetes.js';
import { sleep, type Phase } from '../phase.js';

interface Facts {
  readonly join: readonly NodePlan[];
}

async function notJoined(ctx: RegionContext, nodes: readonly NodePlan[]): Promise<NodePlan[]> {
  if (nodes.length === 0) return [];
  const distribution = distributionOf(ctx);
  const outcomes = await fanOut(
    nodes,
    async (n) => ({ n, joined: await distribution.joined(ctx.hosts.get(n), n) }),
    { step: 'observe kubeadm', limiter: ctx.limiter, signal: ctx.signal },
  );
  return allOrThrow('observe kubeadm', outcomes)
    .filter((o) => !o.joined)
    .map((o) => o.n);
}

export const kubernetesJoinControlPlanePhase: Phase<RegionContext, Facts> = {
  id: 'kubernetes-join-control-plane',
  title: 'Further control planes, one at a time, each an etcd voter before the next',
  async observe(ctx) {
    const plan = ctx.prepared().plan;
    const ready = new Set(readyNodes(ctx).map((n) => n.name));
    const others = controlPlaneOrder(plan)
      .slice(1)
      .filter((n) => ready.has(n.name));
    return { join: await notJoined(ctx, others) };
  },
  shouldRun: (f) => f.join.length > 0,
  skipReason: (_f, ctx) =>
    ctx.prepared().plan.kubernetes.servers.length === 1
      ? 'one control-plane node: nothing more to join'
      : 'every control-plane node has joined',
  actions: (f) =>
    f.join.map((n) => ({
      target: n.name,
      text: 'join as a further control plane, then wait until etcd counts it as a voter',
    })),
  async run(ctx, _actions, facts) {
    const plan = ctx.prepared().plan;
    const log = kubeLog(ctx, this.id);
    const distribution = distributionOf(ctx);
    const init = ctx.hosts.get(plan.nodes.find((n) => n.name === plan.kubernetes.initServer)!);
    await distribution.beforeJoins(ctx, init);
    for (const node of facts.join) {
      await distribution.join(ctx, ctx.hosts.get(node), node, log);
      const started = ctx.now();
      for (;;) {
        const voter = await distribution.voter(ctx, node, init);
        if (voter !== undefined) {
          log(voter);
          break;
        }
        if (ctx.now() - started > ctx.nodeTimeoutMs)
          throw new UserError(
            `${node.name} joined but etcd does not count it as a voting member after ${Math.round(ctx.nodeTimeoutMs / 60000)} min; no further control plane joins`,
            `look at etcd on ${node.name} (crictl logs, journalctl -u kubelet) and run region up again`,
          );
        await sleep(ctx.pollMs.kube, ctx.signal);
      }
    }
  },
};

export const kubernetesJoinWorkersPhase: Phase<RegionContext, Facts> = {
  id: 'kubernetes-join-workers',
  title: 'Workers join, in parallel (--concurrency)',
  async observe(ctx) {
    return {
      join: await notJoined(
        ctx,
        readyNodes(ctx).filter((n) => !isControlPlane(n)),
      ),
    };
  },
  shouldRun: (f) => f.join.length > 0,
  skipReason: () => 'every worker has joined',
  actions: (f) => f.join.map((n) => ({ target: n.name, text: 'join as a worker' })),
  async run(ctx, _actions, facts) {
    const log = kubeLog(ctx, this.id);
    const distribution = distributionOf(ctx);
    await distribution.beforeJoins(ctx);
    const outcomes = await fanOut(
      facts.join,
      (node) => distribution.join(ctx, ctx.hosts.get(node), node, log),
      { step: 'kubeadm join', limiter: ctx.limiter, signal: ctx.signal },
    );
    allOrThrow('join workers', outcomes);
  },
};
