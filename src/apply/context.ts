// What region up's phases receive: the prepared region (plan + render, computed once, without
// writing), the power drivers (a PowerDriverFactory injected by the caller: real BMC drivers, the
// lab's, or none), the boot service to supervise, the clock and the per-node timeout.
import type { KubeArtifacts } from '../kube/artifacts.js';
import type { PowerDriver, PowerDriverFactory } from '../bmc/driver.js';
import { UserError } from '../errors.js';
import { hasPending, type Prepared } from '../pipeline.js';
import type { StateDir } from '../state/index.js';
import type { RunContext } from './phase.js';

/** The boot server and dnsmasq, as region up starts and supervises them. */
export interface BootServiceProvider {
  /** "boot server on http://10.0.0.5:8080 with dnsmasq (DHCP authoritative)", for the plan of work. */
  describe(ctx: RegionContext): string;
  /** Whether one is serving this region already (observe: read only). */
  running(): Promise<boolean>;
  start(ctx: RegionContext): Promise<RunningBootService>;
}

export interface RunningBootService {
  /** Starts it again if it died (node states are on disk, so no node is installed twice). */
  ensureRunning(ctx: RegionContext): Promise<void>;
  stop(): Promise<void>;
}

export interface RegionContext extends RunContext {
  /** Manifest path, as given: for child processes (the lab's `pxe serve`). */
  readonly manifest: string;
  readonly state: StateDir;
  /** Plan and render, prepared once; nothing is written until the prepare phase commits. */
  prepared(): Prepared;
  /** Set by the prepare phase once allocations and secrets are on disk. */
  readonly committed: { value: boolean };
  readonly power: PowerDriverFactory;
  /** Drivers made so far (see driverFor). */
  readonly drivers: Map<string, PowerDriver | undefined>;
  readonly boot: BootServiceProvider;
  /** The boot service this run started, once the boot-service phase ran. */
  readonly bootService: { current: RunningBootService | undefined };
  /** How long one node gets from power-on to installed, and from installed to SSH. */
  readonly nodeTimeoutMs: number;
  /** Nodes that failed, with why: later phases leave them, the others go on. */
  readonly failures: Map<string, string>;
  /** Render paths the fabric phase found a switch running, or left it running (frr.conf; SONiC's config_db.json): record-applied records them. */
  readonly switchFilesInSync: Set<string>;
  /** When each node was powered on (or asked to be), for its timeout. */
  readonly poweredAt: Map<string, number>;
  readonly now: () => number;
  /** Words about a node that stopped, from where it runs (the lab: its serial console). */
  readonly diagnose?: (node: string) => string | undefined;
  /**
   * Lines from where the nodes run that the person running region up should see as they happen, each
   * returned once (the lab: a machine started again under TCG). Read while the phases wait on nodes.
   */
  readonly notices?: () => readonly { readonly node: string; readonly message: string }[];
  /** Poll intervals; tests make them short. */
  readonly pollMs: { readonly states: number; readonly ssh: number; readonly power: number };
  /** Hosts worked on at once by every fan-out (`--concurrency`, default 30). */
  readonly concurrency?: number;
  /** Where the Kubernetes artifacts come from when the manifest names no airgap folder (the lab builds them). */
  readonly kubeArtifacts?: () => Promise<KubeArtifacts>;
  /** The operator image when the manifest's is civostack's own reference operator (the lab builds it). */
  readonly operatorImage?: () => Promise<{
    readonly ref: string;
    readonly archive: string;
    readonly sha256: string;
  }>;
  /** Whether this is the lab (its host reaches the node network through the control-plane nodes). */
  readonly lab?: boolean;
}

/** The prepared region, refusing one whose allocations or secrets are not recorded yet. */
export function committedRegion(ctx: RegionContext): Prepared {
  const p = ctx.prepared();
  if (hasPending(p) && !ctx.committed.value)
    throw new UserError(
      'allocations or secrets of this render are not recorded yet: nodes booted from it would not match the state folder',
      'run the prepare phase first (region up without --only/--from, or --from prepare)',
    );
  return p;
}

/** The node's power driver, made once per run and closed at its end. */
export function driverFor(ctx: RegionContext, node: string): PowerDriver | undefined {
  if (!ctx.drivers.has(node)) {
    const d = ctx.power(node);
    ctx.drivers.set(node, d);
    if (d) ctx.defer(() => d.close());
  }
  return ctx.drivers.get(node);
}
