// `region up`: the phases, in order (after k0sctl's action/apply.go). A real rack and the lab run
// the same boot, power, install and SSH phases; the lab adds its network and artifacts first, and
// brings its own boot service and power drivers.
import type { PowerDriverFactory } from '../bmc/driver.js';
import type { EventSink } from '../events.js';
import type { Prepared } from '../pipeline.js';
import type { BootServiceProvider, RegionContext } from './context.js';
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
  readonly concurrency?: number;
  readonly kubeArtifacts?: RegionContext['kubeArtifacts'];
  readonly operatorImage?: RegionContext['operatorImage'];
  readonly lab?: boolean;
}

export function regionUp(o: RegionUpOptions): Promise<RunResult> {
  const now = o.now ?? Date.now;
  const ctx: Omit<RegionContext, 'defer'> = {
    signal: o.signal,
    emit: o.emit,
    manifest: o.manifest,
    state: o.prepared.state,
    prepared: () => o.prepared,
    committed: { value: false },
    power: o.power,
    drivers: new Map(),
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
    pollMs: o.pollMs ?? { states: 2000, ssh: 2000, power: 30_000 },
    ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
    ...(o.kubeArtifacts ? { kubeArtifacts: o.kubeArtifacts } : {}),
    ...(o.operatorImage ? { operatorImage: o.operatorImage } : {}),
    ...(o.lab ? { lab: true } : {}),
  };
  return runPhases({
    phases: o.phases,
    ctx,
    state: o.prepared.state,
    command: `region up ${o.manifest}${o.selection?.only ? ` --only ${o.selection.only}` : ''}${o.selection?.from ? ` --from ${o.selection.from}` : ''}`,
    now: () => new Date(now()),
    ...(o.selection ? { selection: o.selection } : {}),
    ...(o.dryRun ? { dryRun: true } : {}),
    ...(o.confirm ? { confirm: o.confirm } : {}),
  });
}
