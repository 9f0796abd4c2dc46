// Where a region's machines are: a rack (real BMCs, the boot server on the bootstrap host) or the
// lab (QEMU machines behind emulated BMCs, in network namespaces on this host). One Environment
// supplies everything region up needs of it, so the engine never asks which one it runs in.
import type { PowerDriverFactory } from '../bmc/driver.js';
import type { KubeArtifacts } from '../kube/artifacts.js';
import type { BootServiceProvider, RegionContext } from './context.js';
import type { Phase } from './phase.js';
import { rackBootService } from './rack-boot.js';
import { rackPhases } from './region-up.js';

export interface Environment {
  /** Every phase, from prepare to verify, in order (--only/--from/--until pick from them). */
  readonly phases: readonly Phase<RegionContext>[];
  readonly boot: BootServiceProvider;
  readonly power: PowerDriverFactory;
  /** Where the Kubernetes artifacts come from when the manifest names no airgap folder (the lab builds them). */
  readonly kubeArtifacts?: () => Promise<KubeArtifacts>;
  readonly operatorImage?: RegionContext['operatorImage'];
  readonly diagnose?: RegionContext['diagnose'];
  readonly notices?: RegionContext['notices'];
}

/** A rack: its BMCs (a node without BMC access is powered by hand), the boot service on this host. */
export function rackEnvironment(o: {
  readonly power: PowerDriverFactory;
  readonly cacheDir?: string;
}): Environment {
  return {
    phases: rackPhases(),
    boot: rackBootService(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
    power: o.power,
  };
}
