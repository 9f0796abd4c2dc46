// What the Kubernetes phases share: the artifacts (the manifest's airgap folder, or what the lab
// builds), the kubeadm inputs, the kubeconfig in the state folder, and a log line helper.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RegionContext } from '../apply/context.js';
import { UserError } from '../errors.js';
import { secretValues } from '../render/secrets.js';
import { writeFileAtomic } from '../state/index.js';
import { loadKubeArtifacts, type KubeArtifacts } from './artifacts.js';
import type { KubeadmInputs } from './kubeadm-render.js';

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
