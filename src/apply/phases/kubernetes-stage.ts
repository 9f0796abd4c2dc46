// Kubernetes staged on every node: the binaries and images of its role (uploads skipped where the
// sha256 already matches), containerd, the CNI and kubelet files, keepalived on control planes.
// Control-plane nodes go one at a time (a restart never takes two down); workers in parallel.
import { fanOut, allOrThrow } from '../../remote/index.js';
import { isControlPlane } from '../../kube/kubeadm-render.js';
import { observeStaged, type StagedFacts, type StageList } from '../../kube/kubeadm.js';
import { distributionOf } from '../distribution.js';
import { kubeLog, readyNodes } from '../kubernetes.js';
import type { NodePlan } from '../../plan/index.js';
import type { RegionContext } from '../context.js';
import type { Phase } from '../phase.js';

interface Facts {
  readonly nodes: readonly { readonly node: NodePlan; readonly staged: StagedFacts }[];
}

const ID = 'kubernetes-stage';

async function operatorImages(ctx: RegionContext) {
  const op = ctx.prepared().region.manifest.operator;
  if (!op || !ctx.operatorImage) return [];
  const image = await ctx.operatorImage();
  return image.ref === op.image ? [image] : [];
}

export const kubernetesStagePhase: Phase<RegionContext, Facts> = {
  id: ID,
  title: 'Stage Kubernetes on the nodes (binaries, images, containerd, kubelet, VIP)',
  async observe(ctx) {
    const nodes = readyNodes(ctx);
    if (nodes.length === 0) return { nodes: [] };
    const extra = await operatorImages(ctx);
    const hosts = ctx.hosts;
    const lists = new Map<string, StageList>();
    const distribution = distributionOf(ctx);
    for (const node of nodes) lists.set(node.name, await distribution.stageList(ctx, node, extra));
    const outcomes = await fanOut(
      nodes,
      async (node) => ({ node, staged: await observeStaged(hosts.get(node), lists.get(node.name)!) }),
      { step: 'observe staged files', limiter: hosts.limiter, signal: ctx.signal },
    );
    return {
      nodes: allOrThrow('observe staged files', outcomes).filter(
        (n) => n.staged.changed.length + n.staged.missingImages.length + n.staged.stopped.length > 0,
      ),
    };
  },
  shouldRun: (f) => f.nodes.length > 0,
  skipReason: () => 'every node has its binaries, images and files, and its services run',
  actions: (f) =>
    f.nodes.map(({ node, staged }) => ({
      target: node.name,
      text: `${staged.stopped.length > 0 ? `start ${staged.stopped.join(', ')}; ` : ''}stage ${staged.changed.length} files (${staged.changed
        .map((c) => c.path.split('/').at(-1))
        .slice(0, 6)
        .join(', ')}${staged.changed.length > 6 ? ', …' : ''}), import ${staged.missingImages.length} images`,
    })),
  async run(ctx, _actions, facts) {
    const hosts = ctx.hosts;
    const log = kubeLog(ctx, ID);
    const distribution = distributionOf(ctx);
    const servers = facts.nodes.filter((n) => isControlPlane(n.node));
    const workers = facts.nodes.filter((n) => !isControlPlane(n.node));
    const oneAtATime = async () => {
      for (const s of servers) await distribution.stage(hosts.get(s.node), s.node, s.staged, log);
    };
    const [, outcomes] = await Promise.all([
      oneAtATime(),
      fanOut(
        workers.map((w) => ({ ...w, name: w.node.name })),
        (w) => distribution.stage(hosts.get(w.node), w.node, w.staged, log),
        { step: 'stage', limiter: hosts.limiter, signal: ctx.signal },
      ),
    ]);
    allOrThrow('stage Kubernetes', outcomes);
  },
};
