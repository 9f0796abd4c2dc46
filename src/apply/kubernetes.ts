// What the Kubernetes phases read of the run: the nodes they work on, the secrets and inputs the
// renders take, the admin kubeconfig in the state folder, and their log lines.
import { existsSync } from 'node:fs';
import { readNodeStates } from '../boot/index.js';
import type { KubeArtifacts } from '../kube/artifacts.js';
import { kubeconfigPath } from '../kube/kubeconfig.js';
import type { KubeadmInputs } from '../kube/kubeadm-render.js';
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
