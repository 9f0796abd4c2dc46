// What the Kubernetes phases share: the artifacts (the manifest's airgap folder, or what the lab
// builds), the kubeadm inputs, the kubeconfig in the state folder, and a log line helper.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RegionContext } from '../apply/context.js';
import { UserError } from '../errors.js';
import { secretValues } from '../render/secrets.js';
import { writeFileAtomic } from '../state/index.js';
import { loadKubeArtifacts, type KubeArtifacts } from './artifacts.js';
import { DEFAULT_IMAGES, type KubeadmInputs } from './kubeadm-render.js';
import { fileSha256, k3sAirgap, k3sStageList } from './k3s.js';
import { stageList, type StageList } from './kubeadm.js';
import type { NodePlan } from '../plan/index.js';

const artifactsCache = new WeakMap<object, Promise<KubeArtifacts>>();

/** The kubeadm artifacts: the manifest's `kubernetes.airgap` folder, else what the run was given (the lab builds them). */
export function kubeArtifacts(ctx: RegionContext): Promise<KubeArtifacts> {
  let p = artifactsCache.get(ctx);
  if (!p) {
    const prepared = ctx.prepared();
    const airgap = prepared.plan.kubernetes.airgap;
    if (airgap !== undefined) p = Promise.resolve(loadKubeArtifacts(resolve(prepared.manifestDir, airgap)));
    else if (ctx.kubeArtifacts) p = ctx.kubeArtifacts();
    else
      p = Promise.reject(
        new UserError(
          'kubernetes.airgap is not set: the nodes need the Kubernetes binaries and images from an artifact folder',
          'build one with `civostack kube artifacts` and set kubernetes.airgap to its folder',
        ),
      );
    artifactsCache.set(ctx, p);
  }
  return p;
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

/** `<state>/kubernetes/admin.conf` (0600): the cluster's admin kubeconfig, server at the API VIP. */
export function kubeconfigPath(statePath: string): string {
  return join(statePath, 'kubernetes', 'admin.conf');
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

/** Inputs for the files both distributions render (keepalived, kubeadm's own). */
export function renderInputs(ctx: RegionContext): KubeadmInputs {
  return { ...DEFAULT_IMAGES, secrets: secretValues(ctx.prepared().secrets) };
}

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
    return k3sStageList(
      plan,
      node,
      airgap,
      (p) => fileSha256(p, shaCache, (x) => readFileSync(x)),
      renderInputs(ctx),
    );
  }
  const artifacts = await kubeArtifacts(ctx);
  return stageList(plan, node, artifacts, kubeadmInputs(ctx, artifacts), extraImages);
}
