// The Kubernetes distribution a region runs, as the phases use it: what a node needs staged and how
// it is put in place, how the first control plane starts, how the others join, and when a joined
// control plane counts for quorum. kubeadm and K3s each answer all of it, so no phase asks which
// one it runs.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import { clusterError } from '../kube/api.js';
import { fileSha256, k3sActive, k3sAirgap, k3sInstall, k3sKubeconfig, k3sStageList } from '../kube/k3s.js';
import { kubeconfigPath } from '../kube/kubeconfig.js';
import { DEFAULT_IMAGES, kubeadmConfig } from '../kube/kubeadm-render.js';
import {
  caCertHash,
  etcdMembers,
  kubeadmFacts,
  kubeadmInit,
  kubeadmJoin,
  stageList,
  stageNode,
  uploadCerts,
  type StagedFacts,
  type StageList,
} from '../kube/kubeadm.js';
import type { NodePlan } from '../plan/index.js';
import type { Host } from '../remote/index.js';
import { secretValues } from '../render/secrets.js';
import type { RegionContext } from './context.js';
import { kubeadmInputs, secretsOf } from './kubernetes.js';

type Log = (message: string) => void;

/** An image the environment built for the nodes (the reference operator), staged beside Kubernetes' own. */
export interface ExtraImage {
  readonly ref: string;
  readonly archive: string;
  readonly sha256: string;
}

export interface Distribution {
  /** What one node needs staged: binaries, images, rendered files. */
  stageList(ctx: RegionContext, node: NodePlan, extraImages: readonly ExtraImage[]): Promise<StageList>;
  /** Puts the changed files in place and restarts what they ask for. */
  stage(host: Host, node: NodePlan, staged: StagedFacts, log: Log): Promise<void>;
  /** What the init server has: whether it runs the control plane, and holds the admin kubeconfig. */
  initFacts(host: Host, node: NodePlan): Promise<{ readonly joined: boolean; readonly admin: boolean }>;
  /** "kubeadm init Kubernetes v1.35.4, endpoint …": the init action's words, for the plan of work. */
  initText(ctx: RegionContext): string;
  /** Starts the first control plane where it is not running; returns the admin kubeconfig. */
  init(ctx: RegionContext, host: Host, node: NodePlan, log: Log): Promise<string>;
  /** Whether the node is part of the cluster already. */
  joined(host: Host, node: NodePlan): Promise<boolean>;
  /**
   * What the cluster needs before nodes join: a fresh bootstrap token; before control planes
   * (`init`: the init server), the certificates they take uploaded again.
   */
  beforeJoins(ctx: RegionContext, init?: Host): Promise<void>;
  join(ctx: RegionContext, host: Host, node: NodePlan, log: Log): Promise<void>;
  /** undefined until the joined control plane counts for quorum; then the words that say so. */
  voter(ctx: RegionContext, node: NodePlan, init: Host): Promise<string | undefined>;
}

/** How long a joining node's token stays valid: long enough for a slow rack, short enough to matter. */
const TOKEN_VALID_MS = 2 * 3600_000;

const KUBEADM_SECRETS = ['kubeadm/token', 'kubeadm/certificate-key'];

async function joinConfig(ctx: RegionContext, node: NodePlan) {
  const admin = readFileSync(kubeconfigPath(ctx.state.path), 'utf8');
  const inputs = kubeadmInputs(ctx, await ctx.artifacts());
  return {
    content: kubeadmConfig(ctx.prepared().plan, node, inputs, caCertHash(admin)),
    secrets: secretsOf(ctx, ...KUBEADM_SECRETS),
  };
}

export const kubeadm: Distribution = {
  async stageList(ctx, node, extraImages) {
    const artifacts = await ctx.artifacts();
    return stageList(ctx.prepared().plan, node, artifacts, kubeadmInputs(ctx, artifacts), extraImages);
  },
  stage: (host, node, staged, log) => stageNode(host, node, staged, log, 'kubeadm'),
  initFacts: (host) => kubeadmFacts(host),
  initText(ctx) {
    const k = ctx.prepared().plan.kubernetes;
    return `kubeadm init Kubernetes ${k.version}, endpoint ${k.apiVip}:6443`;
  },
  async init(ctx, host, node, log) {
    const inputs = kubeadmInputs(ctx, await ctx.artifacts());
    return kubeadmInit(
      host,
      {
        content: kubeadmConfig(ctx.prepared().plan, node, inputs),
        secrets: secretsOf(ctx, ...KUBEADM_SECRETS),
      },
      await kubeadmFacts(host),
      log,
      ctx.signal,
    );
  },
  joined: async (host) => (await kubeadmFacts(host)).joined,
  async beforeJoins(ctx, init) {
    const [token] = secretsOf(ctx, 'kubeadm/token');
    const api = ctx.cluster();
    await api.ensureBootstrapToken(token!, TOKEN_VALID_MS, new Date(ctx.now())).catch((err: unknown) => {
      throw clusterError(`the bootstrap token could not be refreshed through ${api.server}`, err);
    });
    if (init) await uploadCerts(init, secretsOf(ctx, ...KUBEADM_SECRETS));
  },
  async join(ctx, host, node, log) {
    await kubeadmJoin(host, await joinConfig(ctx, node), await kubeadmFacts(host), log, ctx.signal);
  },
  async voter(_ctx, node, init) {
    const members = await etcdMembers(init).catch(() => []);
    const me = members.find((m) => m.name === node.name);
    if (!me || me.learner) return undefined;
    return `${node.name}: etcd voting member (${members.filter((m) => !m.learner).length} voters)`;
  },
};

const shaCache = new Map<string, string>();

export const k3s: Distribution = {
  stageList(ctx, node) {
    const prepared = ctx.prepared();
    const plan = prepared.plan;
    if (plan.kubernetes.airgap === undefined)
      throw new UserError(
        'kubernetes.airgap is not set: K3s is installed from its release artifacts in that folder',
        'put the k3s binary, k3s-airgap-images-amd64.tar.zst and install.sh in a folder and name it there',
      );
    const airgap = k3sAirgap(resolve(prepared.manifestDir, plan.kubernetes.airgap));
    return Promise.resolve(
      k3sStageList(plan, node, airgap, (p) => fileSha256(p, shaCache, (x) => readFileSync(x)), {
        ...DEFAULT_IMAGES,
        secrets: secretValues(prepared.secrets),
      }),
    );
  },
  stage: (host, node, staged, log) => stageNode(host, node, staged, log, 'k3s'),
  async initFacts(host, node) {
    const active = await k3sActive(host, node);
    return { joined: active, admin: active };
  },
  initText(ctx) {
    return `install K3s ${ctx.prepared().plan.kubernetes.version} (server, cluster-init) from the airgap folder`;
  },
  async init(ctx, host, node, log) {
    if (!(await k3sActive(host, node))) {
      log(`${node.name}: K3s install script (offline)`);
      await k3sInstall(host, node, ctx.signal);
    }
    return k3sKubeconfig(host, ctx.prepared().plan.kubernetes.apiVip);
  },
  joined: (host, node) => k3sActive(host, node),
  // K3s' agents and servers join with the tokens staged beside its config.
  beforeJoins: () => Promise.resolve(),
  join: (ctx, host, node) => k3sInstall(host, node, ctx.signal),
  async voter(ctx, node) {
    // K3s' embedded etcd: a server is a voter once its node is Ready with the etcd role.
    const n = (
      await ctx
        .cluster()
        .nodes()
        .catch(() => [])
    ).find((x) => x.name === node.name);
    return n?.ready && n.labels['node-role.kubernetes.io/etcd'] === 'true'
      ? `${node.name}: Ready with the etcd role`
      : undefined;
  },
};

/** The region's distribution, as its manifest names it. */
export function distributionOf(ctx: RegionContext): Distribution {
  return ctx.prepared().plan.kubernetes.distribution === 'k3s' ? k3s : kubeadm;
}
