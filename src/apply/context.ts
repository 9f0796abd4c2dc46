// What region up's phases receive: the prepared region (plan + render, computed once, without
// writing), and narrow services built once per run: the power fleet (drivers from the caller's
// factory: real BMCs, the lab's, or none), the boot service to supervise, the nodes' SSH hosts,
// the cluster's API, the Kubernetes artifacts, and the one limiter every fan-out shares.
import type { ClusterApi } from '../kube/api.js';
import type { KubeArtifacts } from '../kube/artifacts.js';
import type { NodeHosts } from '../kube/hosts.js';
import type { PowerDriver } from '../bmc/driver.js';
import type { Limiter } from '../remote/index.js';
import { UserError } from '../errors.js';
import { hasPending, type Prepared } from '../pipeline.js';
import type { StateDir } from '../state/index.js';
import { COMMITTED } from './outputs.js';
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
  readonly power: PowerFleet;
  readonly boot: BootServiceProvider;
  /** How long one node gets from power-on to installed, and from installed to SSH. */
  readonly nodeTimeoutMs: number;
  /** Nodes that failed in this run, with why (failNode): later phases leave them, the others go on. */
  readonly failures: Map<string, string>;
  readonly now: () => number;
  /** Words about a node that stopped, from where it runs (the lab: its serial console). */
  readonly diagnose?: (node: string) => string | undefined;
  /**
   * Lines from where the nodes run that the person running region up should see as they happen, each
   * returned once (the lab: a machine started again under TCG). Read while the phases wait on nodes.
   */
  readonly notices?: () => readonly { readonly node: string; readonly message: string }[];
  /** Poll intervals; tests make them short. kube: between two looks at etcd or the cluster's nodes. */
  readonly pollMs: {
    readonly states: number;
    readonly ssh: number;
    readonly power: number;
    readonly kube: number;
  };
  /** The one limit on hosts and devices worked on at once, by every phase (`--concurrency`, default 30). */
  readonly limiter: Limiter;
  /** The ssh-ready nodes, as the Kubernetes phases reach them. */
  readonly hosts: NodeHosts;
  /** The cluster's API at the VIP, through the admin kubeconfig in the state folder. */
  cluster(): Cluster;
  /** The kubeadm artifacts (the manifest's airgap folder, or what the environment builds), made once. */
  artifacts(): Promise<KubeArtifacts>;
  /** The operator image when the manifest's is civostack's own reference operator (the lab builds it). */
  readonly operatorImage?: () => Promise<{
    readonly ref: string;
    readonly archive: string;
    readonly sha256: string;
  }>;
}

/** What the phases ask of the cluster's API. */
export type Cluster = Pick<
  ClusterApi,
  'server' | 'nodes' | 'ensureBootstrapToken' | 'apply' | 'read' | 'crdEstablished'
>;

/** The nodes' power drivers, each made once per run on first use and all closed at its end. */
export interface PowerFleet {
  /** undefined: the node has no BMC access and is powered by hand. */
  driver(node: string): PowerDriver | undefined;
  close(): Promise<void>;
}

/** The prepared region, refusing one whose allocations or secrets are not recorded yet. */
export function committedRegion(ctx: RegionContext): Prepared {
  const p = ctx.prepared();
  if (hasPending(p) && !ctx.outputOf(COMMITTED))
    throw new UserError(
      'allocations or secrets of this render are not recorded yet: nodes booted from it would not match the state folder',
      'run the prepare phase first (region up without --only/--from, or --from prepare)',
    );
  return p;
}

/** A node failed: later phases leave it, the others go on; it is reported at the end. */
export function failNode(ctx: RegionContext, node: string, reason: string): void {
  ctx.failures.set(node, reason);
  ctx.emit({ kind: 'warning', code: 'node.failed', target: node, message: `${node}: ${reason}` });
}
