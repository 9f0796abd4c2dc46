// Further control planes join one at a time, each waited for until etcd counts it as a voting
// member (quorum is never at risk); then workers join in parallel batches (--concurrency).
import { readFileSync } from 'node:fs';
import { UserError } from '../../errors.js';
import { clusterError } from '../../kube/api.js';
import { kubeconfigPath } from '../../kube/kubeconfig.js';
import { caCertHash, etcdMembers, kubeadmFacts, kubeadmJoin, uploadCerts } from '../../kube/kubeadm.js';
import { controlPlaneOrder, isControlPlane, kubeadmConfig } from '../../kube/kubeadm-render.js';
import { isK3s, kubeadmInputs, kubeLog, readyNodes, secretsOf } from '../kubernetes.js';
import { k3sActive, k3sInstall } from '../../kube/k3s.js';
import type { NodePlan } from '../../plan/index.js';
import { allOrThrow, fanOut } from '../../remote/index.js';
import type { RegionContext } from '../context.js';
import { sleep, type Phase } from '../phase.js';

interface Facts {
  readonly join: readonly NodePlan[];
}

/** How long a joining node's token stays valid: long enough for a slow rack, short enough to matter. */
const TOKEN_VALID_MS = 2 * 3600_000;

async function notJoined(ctx: RegionContext, nodes: readonly NodePlan[]): Promise<NodePlan[]> {
  if (nodes.length === 0) return [];
  const hosts = ctx.hosts;
  const outcomes = await fanOut(
    nodes,
    async (n) => ({
      n,
      joined: isK3s(ctx) ? await k3sActive(hosts.get(n), n) : (await kubeadmFacts(hosts.get(n))).joined,
    }),
    { step: 'observe kubeadm', limiter: hosts.limiter, signal: ctx.signal },
  );
  return allOrThrow('observe kubeadm', outcomes)
    .filter((o) => !o.joined)
    .map((o) => o.n);
}

async function joinConfig(ctx: RegionContext, node: NodePlan) {
  const plan = ctx.prepared().plan;
  const admin = readFileSync(kubeconfigPath(ctx.state.path), 'utf8');
  const inputs = kubeadmInputs(ctx, await ctx.artifacts());
  return {
    content: kubeadmConfig(plan, node, inputs, caCertHash(admin)),
    secrets: secretsOf(ctx, 'kubeadm/token', 'kubeadm/certificate-key'),
  };
}

async function freshToken(ctx: RegionContext): Promise<void> {
  const [token] = secretsOf(ctx, 'kubeadm/token');
  const api = ctx.cluster();
  await api.ensureBootstrapToken(token!, TOKEN_VALID_MS, new Date(ctx.now())).catch((err: unknown) => {
    throw clusterError(`the bootstrap token could not be refreshed through ${api.server}`, err);
  });
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
    const hosts = ctx.hosts;
    const log = kubeLog(ctx, this.id);
    const init = plan.nodes.find((n) => n.name === plan.kubernetes.initServer)!;
    const k3s = isK3s(ctx);
    if (!k3s) {
      await freshToken(ctx);
      await uploadCerts(hosts.get(init), secretsOf(ctx, 'kubeadm/token', 'kubeadm/certificate-key'));
    }
    const api = ctx.cluster();
    for (const node of facts.join) {
      const host = hosts.get(node);
      if (k3s) await k3sInstall(host, node, ctx.signal);
      else await kubeadmJoin(host, await joinConfig(ctx, node), await kubeadmFacts(host), log, ctx.signal);
      const started = ctx.now();
      for (;;) {
        if (k3s) {
          // K3s' embedded etcd: a server is a voter once its node is Ready with the etcd role.
          const n = (await api.nodes().catch(() => [])).find((x) => x.name === node.name);
          if (n?.ready && n.labels['node-role.kubernetes.io/etcd'] === 'true') {
            log(`${node.name}: Ready with the etcd role`);
            break;
          }
        } else {
          const members = await etcdMembers(hosts.get(init)).catch(() => []);
          const me = members.find((m) => m.name === node.name);
          if (me && !me.learner) {
            log(`${node.name}: etcd voting member (${members.filter((m) => !m.learner).length} voters)`);
            break;
          }
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
    const hosts = ctx.hosts;
    const log = kubeLog(ctx, this.id);
    const k3s = isK3s(ctx);
    if (!k3s) await freshToken(ctx);
    const outcomes = await fanOut(
      facts.join,
      async (node) => {
        const host = hosts.get(node);
        if (k3s) await k3sInstall(host, node, ctx.signal);
        else await kubeadmJoin(host, await joinConfig(ctx, node), await kubeadmFacts(host), log, ctx.signal);
      },
      { step: 'kubeadm join', limiter: hosts.limiter, signal: ctx.signal },
    );
    allOrThrow('join workers', outcomes);
  },
};
