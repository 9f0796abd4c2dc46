// The lab as region up's Environment: its network, artifacts and BMC emulators before the rack's
// install phases, its route to the node network and its fabric (FRR namespaces) before the fabric
// phase; `pxe serve` in its namespace as the boot service; its emulated BMCs for power; Kubernetes
// and the reference operator built here; a stopped machine's serial console for diagnostics.
import { dirname, resolve } from 'node:path';
import { fabricPhase } from '../apply/phases/fabric.js';
import { preparePhase } from '../apply/phases/prepare.js';
import { clusterPhases, installPhases } from '../apply/region-up.js';
import type { Environment } from '../apply/environment.js';
import type { PowerDriverFactory } from '../bmc/driver.js';
import type { Prepared } from '../pipeline.js';
import type { AccelChoice } from './accel.js';
import { labBootService } from './boot-service.js';
import { labDiagnose } from './diagnose.js';
import { labNetwork } from './netns.js';
import { labApiRoutePhase } from './phases/api-route.js';
import { labArtifactsPhase } from './phases/artifacts.js';
import { labBmcsPhase } from './phases/bmcs.js';
import { labFabricDown, labFabricPhase } from './phases/fabric.js';
import { labNetworkPhase } from './phases/network.js';
import { labNotices } from './vm-hook.js';

export interface LabEnvironmentOptions {
  readonly manifest: string;
  readonly prepared: Prepared;
  /** The lab's emulated BMCs, reached with the same drivers as a rack's. */
  readonly power: PowerDriverFactory;
  readonly cacheDir?: string;
  readonly accel: AccelChoice;
}

/** The lab's phases: the rack's install and cluster phases, with the lab's own around them. */
export function labPhases(o: Pick<LabEnvironmentOptions, 'cacheDir' | 'accel'> & { manifestDir: string }) {
  return [
    preparePhase,
    labArtifactsPhase(o.cacheDir),
    labNetworkPhase,
    labBmcsPhase(o),
    ...installPhases,
    labApiRoutePhase,
    labFabricPhase,
    fabricPhase({ down: labFabricDown }),
    ...clusterPhases,
  ];
}

export function labEnvironment(o: LabEnvironmentOptions): Environment {
  const { plan, state } = o.prepared;
  const cache = o.cacheDir ? { cacheDir: o.cacheDir } : {};
  return {
    phases: labPhases({ ...cache, accel: o.accel, manifestDir: dirname(resolve(o.manifest)) }),
    boot: labBootService({
      manifest: o.manifest,
      plan,
      state,
      net: labNetwork(plan, plan.region.name),
      ...cache,
    }),
    power: o.power,
    // The lab builds upstream Kubernetes and the reference operator here (cached by recipe).
    kubeArtifacts: async () => (await import('../kube/artifacts.js')).ensureKubeArtifacts(cache),
    operatorImage: async () => (await import('../kube/operator-image.js')).ensureOperatorImage(cache),
    diagnose: labDiagnose(state),
    notices: labNotices(state),
  };
}
