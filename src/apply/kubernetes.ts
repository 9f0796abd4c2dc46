// What the Kubernetes phases read of the run: the nodes they work on, the secrets and inputs the
// renders take, the admin kubeconfig in the state folder, and their log lines.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readNodeStates } from '../boot/index.js';
import { UserError } from '../errors.js';
import type { KubeArtifacts } from '../kube/artifacts.js';
import { fileSha256, k3sAirgap, k3sStageList } from '../kube/k3s.js';
import { kubeconfigPath } from '../kube/kubeconfig.js';
import { DEFAULT_IMAGES, type KubeadmInputs } from '../kube/kubeadm-render.js';
import { stageList, type StageList } from '../kube/kubeadm.js';
import type { NodePlan } from '../plan/index.js';
import { secretValues } from '../render/secrets.js';
import { writeFileAtomic } from '../state/index.js';
import type { RegionContext } from './context.js';

/** Nodes the Kubernetes phases work on: ssh-ready, not failed earlier in this run. */
export function readyNodes(ctx: RegionContext): NodePlan[] {
  const { nodes: states } = readNodeStates(ctx.state);
  return ctx
    .prepared()
    .plan.nodes.filter((n) => !ctx.failures.has(n.name) && states[n.name]?.state === 'ssh-ready');
}

export function kubeadmInputs(ctx: RegionContext, artifacts: KubeArtifacts): KubeadmInputs {
  return {
    etcdImageTag: artifacts.etcdImage.split(':').at(-1)!,
    pauseImage: artifacts.pauseImage,
    secrets: secretValues(ctx.prepared().secrets),
  };
}

export function secretsOf(ctx: RegionContext, ...names: string[]): string[] {
  return names.map((n) => ctx.prepared().secrets.get(n)).filter((v): v is string => v !== undefined);
}

export function hasKubeconfig(ctx: RegionContext): boolean {
  return existsSync(kubeconfigPath(ctx.state.path));
}

export function saveKubeconfig(ctx: RegionContext, content: string): string {
  const path = kubeconfigPath(ctx.state.path);
  writeFileAtomic(path, content, 0o600);
  return path;
}

export function kubeLog(ctx: RegionContext, phase: string): (message: string) => void {
  return (message) => ctx.emit({ kind: 'log', code: 'kube.step', phase, message });
}

export const isK3s = (ctx: RegionContext): boolean => ctx.prepared().plan.kubernetes.distribution === 'k3s';

const shaCache = new Map<string, string>();

/** What one node needs staged, for either distribution. */
export async function stageListFor(
  ctx: RegionContext,
  node: NodePlan,
  extraImages: readonly { ref: string; archive: string; sha256: string }[],
): Promise<StageList> {
  const prepared = ctx.prepared();
  const plan = prepared.plan;
  if (isK3s(ctx)) {
    if (plan.kubernetes.airgap === undefined)
      throw new UserError(
        'kubernetes.airgap is not set: K3s is installed from its release artifacts in that folder',
        'put the k3s binary, k3s-airgap-images-amd64.tar.zst and install.sh in a folder and name it there',
      );
    const airgap = k3sAirgap(resolve(prepared.manifestDir, plan.kubernetes.airgap));
    return k3sStageList(plan, node, airgap, (p) => fileSha256(p, shaCache, (x) => readFileSync(x)), {
      ...DEFAULT_IMAGES,
      secrets: secretValues(prepared.secrets),
    });
  }
  const artifacts = await ctx.artifacts();
  return stageList(plan, node, artifacts, kubeadmInputs(ctx, artifacts), extraImages);
}
