// `region up`: the phases, in order (after k0sctl's action/apply.go), and the run's services. A
// rack and the lab run the same install, Kubernetes and operator phases; the Environment (a rack's
// or the lab's) supplies its own phases around them, its boot service, power and artifacts.
import { resolve } from 'node:path';
import type { PowerDriver, PowerDriverFactory } from '../bmc/driver.js';
import { UserError } from '../errors.js';
import type { EventSink } from '../events.js';
import { ClusterApi } from '../kube/api.js';
import { loadKubeArtifacts, type KubeArtifacts } from '../kube/artifacts.js';
import { sshNodeHosts, type NodeHosts } from '../kube/hosts.js';
import { kubeconfigPath } from '../kube/kubeconfig.js';
import type { Prepared } from '../pipeline.js';
import { DEFAULT_CONCURRENCY, Limiter } from '../remote/index.js';
import type { Cluster, PowerFleet, RegionContext } from './context.js';
import type { Environment } from './environment.js';
import type { Phase } from './phase.js';
import { bootDiskPhase } from './phases/boot-disk.js';
import { bootServicePhase } from './phases/boot-service.js';
import { fabricPhase } from './phases/fabric.js';
import { powerPhase } from './phases/power.js';
import { preparePhase } from './phases/prepare.js';
import { recordAppliedPhase } from './phases/record-applied.js';
import { sshReadyPhase } from './phases/ssh-ready.js';
import { verifyPhase } from './phases/verify.js';
import { kubernetesStagePhase } from './phases/kubernetes-stage.js';
import { kubernetesInitPhase } from './phases/kubernetes-init.js';
import { kubernetesJoinControlPlanePhase, kubernetesJoinWorkersPhase } from './phases/kubernetes-join.js';
import { kubernetesReadyPhase } from './phases/kubernetes-ready.js';
import { operatorPhase } from './phases/operator.js';
import { waitInstalledPhase } from './phases/wait-installed.js';
import { runPhases, type PlannedPhase, type RunResult, type Selection } from './runner.js';

/** From powered-off machines to nodes reachable by SSH: a rack's and the lab's alike. */
export const installPhases: readonly Phase<RegionContext>[] = [
  bootServicePhase,
  powerPhase,
  waitInstalledPhase,
  bootDiskPhase,
  sshReadyPhase,
];

/** The Kubernetes phases, from staged nodes to the operator's Region Ready, then the record and the check. */
export const clusterPhases: readonly Phase<RegionContext>[] = [
  kubernetesStagePhase,
  kubernetesInitPhase,
  kubernetesJoinControlPlanePhase,
  kubernetesJoinWorkersPhase,
  kubernetesReadyPhase,
  operatorPhase,
  recordAppliedPhase,
  verifyPhase,
];

/**
 * A rack's phases: prepare, the install, then the fabric, Kubernetes and the operator. The
 * switches booted their rendered config_db.json through ZTP from the boot service; `fabric`
 * pushes what changed since, once the nodes are up (a switch it cannot reach then does not hold
 * their installation back). An environment whose switches may not be up passes its own fabric.
 */
export function rackPhases(fabric: Phase<RegionContext> = fabricPhase()): Phase<RegionContext>[] {
  return [preparePhase, ...installPhases, fabric, ...clusterPhases];
}

export interface RegionUpOptions {
  readonly manifest: string;
  readonly prepared: Prepared;
  readonly environment: Environment;
  readonly emit: EventSink;
  readonly signal: AbortSignal;
  readonly nodeTimeoutMs: number;
  readonly selection?: Selection;
  readonly dryRun?: boolean;
  readonly confirm?: (work: readonly PlannedPhase[]) => Promise<boolean>;
  readonly pollMs?: RegionContext['pollMs'];
  readonly now?: () => number;
  /** Hosts and devices worked on at once, by every phase (`--concurrency`, default 30). */
  readonly concurrency?: number;
  /** The nodes' hosts (default: SSH as root with the pinned host keys); a test gives fakes. */
  readonly hosts?: (limiter: Limiter) => NodeHosts;
  /** The cluster's API (default: the admin kubeconfig in the state folder); a test gives a fake. */
  readonly cluster?: () => Cluster;
}

/** The power drivers, each made once on first use. */
export function powerFleet(factory: PowerDriverFactory): PowerFleet {
  const drivers = new Map<string, PowerDriver | undefined>();
  return {
    driver(node) {
      if (!drivers.has(node)) drivers.set(node, factory(node));
      return drivers.get(node);
    },
    async close() {
      await Promise.all([...drivers.values()].map((d) => d?.close()));
      drivers.clear();
    },
  };
}

/** The kubeadm artifacts, made once: the manifest's airgap folder, else what the environment builds. */
function artifactsOnce(
  p: Prepared,
  build: (() => Promise<KubeArtifacts>) | undefined,
): () => Promise<KubeArtifacts> {
  let made: Promise<KubeArtifacts> | undefined;
  return () =>
    (made ??= (async () => {
      const airgap = p.plan.kubernetes.airgap;
      if (airgap !== undefined) return loadKubeArtifacts(resolve(p.manifestDir, airgap));
      if (build) return build();
      throw new UserError(
        'kubernetes.airgap is not set: the nodes need the Kubernetes binaries and images from an artifact folder',
        'build one with `civostack kube artifacts` and set kubernetes.airgap to its folder',
      );
    })());
}

export async function regionUp(o: RegionUpOptions): Promise<RunResult> {
  const now = o.now ?? Date.now;
  const limiter = new Limiter(o.concurrency ?? DEFAULT_CONCURRENCY);
  const hosts = o.hosts ? o.hosts(limiter) : sshNodeHosts({ state: o.prepared.state, limiter });
  const env = o.environment;
  const power = powerFleet(env.power);
  const ctx: Omit<RegionContext, 'defer' | 'outputOf'> = {
    signal: o.signal,
    emit: o.emit,
    manifest: o.manifest,
    state: o.prepared.state,
    prepared: () => o.prepared,
    power,
    limiter,
    hosts,
    cluster: o.cluster ?? (() => new ClusterApi(kubeconfigPath(o.prepared.state.path), o.signal)),
    artifacts: artifactsOnce(o.prepared, env.kubeArtifacts),
    boot: env.boot,
    nodeTimeoutMs: o.nodeTimeoutMs,
    failures: new Map(),
    now,
    ...(env.diagnose ? { diagnose: env.diagnose } : {}),
    ...(env.notices ? { notices: env.notices } : {}),
    // ssh: a check on the connection kept open to the node (src/apply/phases/ssh-ready.ts) is cheap.
    pollMs: o.pollMs ?? { states: 2000, ssh: 2000, power: 30_000, kube: 3000 },
    ...(env.operatorImage ? { operatorImage: env.operatorImage } : {}),
  };
  try {
    return await runPhases({
      phases: env.phases,
      ctx,
      state: o.prepared.state,
      command: `region up ${o.manifest}${o.selection?.only ? ` --only ${o.selection.only}` : ''}${o.selection?.from ? ` --from ${o.selection.from}` : ''}`,
      now: () => new Date(now()),
      ...(o.selection ? { selection: o.selection } : {}),
      ...(o.dryRun ? { dryRun: true } : {}),
      ...(o.confirm ? { confirm: o.confirm } : {}),
    });
  } finally {
    await Promise.all([hosts.close(), power.close()]);
  }
}
