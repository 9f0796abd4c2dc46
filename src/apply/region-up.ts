// `region up`: the phases, in order (after k0sctl's action/apply.go). A real rack and the lab run
// the same boot, power, install and SSH phases; the lab adds its network and artifacts first, and
// brings its own boot service and power drivers.
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
import type { BootServiceProvider, Cluster, PowerFleet, RegionContext } from './context.js';
import type { Phase } from './phase.js';
import { bootDiskPhase } from './phases/boot-disk.js';
import { bootServicePhase } from './phases/boot-service.js';
import { fabricPhase } from './phases/fabric.js';
import { labFabricPhase } from './phases/lab-fabric.js';
import { labArtifactsPhase } from './phases/lab-artifacts.js';
import { labNetworkPhase } from './phases/lab-network.js';
import { labBmcsPhase } from './phases/lab-bmcs.js';
import type { AccelChoice } from '../lab/accel.js';
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
import { labApiRoutePhase } from './phases/lab-api-route.js';
import { waitInstalledPhase } from './phases/wait-installed.js';
import { runPhases, type PlannedPhase, type RunResult, type Selection } from './runner.js';

/** The Kubernetes phases, from staged nodes to the operator's Region Ready. */
export const kubernetesPhases: readonly Phase<RegionContext>[] = [
  kubernetesStagePhase,
  kubernetesInitPhase,
  kubernetesJoinControlPlanePhase,
  kubernetesJoinWorkersPhase,
  kubernetesReadyPhase,
  operatorPhase,
];

/**
 * The phases from powered-off machines to nodes reachable by SSH, then the fabric, Kubernetes and
 * the operator. The switches booted their rendered config_db.json through ZTP from the boot
 * service; `fabric` pushes what changed since, once the nodes are up (a switch it cannot reach
 * then does not hold their installation back).
 */
export function rackPhases(fabric: Phase<RegionContext> = fabricPhase()): Phase<RegionContext>[] {
  return [
    preparePhase,
    bootServicePhase,
    powerPhase,
    waitInstalledPhase,
    bootDiskPhase,
    sshReadyPhase,
    fabric,
    ...kubernetesPhases,
    recordAppliedPhase,
    verifyPhase,
  ];
}

/**
 * The lab: its network and artifacts, then the rack's phases. Once the nodes answer SSH the
 * fabric lab is started (when it is not up) and checked, and the `fabric` phase reads and pushes
 * its switches over SSH as on a rack.
 */
export function labPhases(o: {
  readonly cacheDir?: string;
  readonly accel: AccelChoice;
  readonly manifestDir: string;
}): Phase<RegionContext>[] {
  const [prepare, ...rest] = rackPhases(fabricPhase({ lab: true }));
  const afterSsh = rest.indexOf(sshReadyPhase) + 1;
  return [
    prepare!,
    labArtifactsPhase(o.cacheDir),
    labNetworkPhase,
    labBmcsPhase(o),
    ...rest.slice(0, afterSsh),
    labApiRoutePhase,
    labFabricPhase,
    ...rest.slice(afterSsh),
  ];
}

export interface RegionUpOptions {
  readonly manifest: string;
  readonly prepared: Prepared;
  readonly phases: readonly Phase<RegionContext>[];
  readonly power: PowerDriverFactory;
  readonly boot: BootServiceProvider;
  readonly emit: EventSink;
  readonly signal: AbortSignal;
  readonly nodeTimeoutMs: number;
  readonly selection?: Selection;
  readonly dryRun?: boolean;
  readonly confirm?: (work: readonly PlannedPhase[]) => Promise<boolean>;
  readonly diagnose?: (node: string) => string | undefined;
  readonly notices?: RegionContext['notices'];
  readonly pollMs?: RegionContext['pollMs'];
  readonly now?: () => number;
  /** Hosts and devices worked on at once, by every phase (`--concurrency`, default 30). */
  readonly concurrency?: number;
  /** Where the Kubernetes artifacts come from when the manifest names no airgap folder (the lab builds them). */
  readonly kubeArtifacts?: () => Promise<KubeArtifacts>;
  readonly operatorImage?: RegionContext['operatorImage'];
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
  const power = powerFleet(o.power);
  const ctx: Omit<RegionContext, 'defer'> = {
    signal: o.signal,
    emit: o.emit,
    manifest: o.manifest,
    state: o.prepared.state,
    prepared: () => o.prepared,
    committed: { value: false },
    power,
    limiter,
    hosts,
    cluster: o.cluster ?? (() => new ClusterApi(kubeconfigPath(o.prepared.state.path), o.signal)),
    artifacts: artifactsOnce(o.prepared, o.kubeArtifacts),
    boot: o.boot,
    bootService: { current: undefined },
    nodeTimeoutMs: o.nodeTimeoutMs,
    failures: new Map(),
    poweredAt: new Map(),
    switchFilesInSync: new Set(),
    now,
    ...(o.diagnose ? { diagnose: o.diagnose } : {}),
    ...(o.notices ? { notices: o.notices } : {}),
    // ssh: a check on the connection kept open to the node (src/apply/phases/ssh-ready.ts) is cheap.
    pollMs: o.pollMs ?? { states: 2000, ssh: 2000, power: 30_000, kube: 3000 },
    ...(o.operatorImage ? { operatorImage: o.operatorImage } : {}),
  };
  try {
    return await runPhases({
      phases: o.phases,
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
