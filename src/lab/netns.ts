// The lab's rack network: one network namespace standing in for a rack's ToR pair. A pure
// description from the Plan, and an executor that creates or removes it with `ip`/`bridge`.
import { execa } from 'execa';
import type { NodePlan, Plan, RackPlan } from '../plan/index.js';

/** Linux rejects interface names longer than IFNAMSIZ - 1. */
const IFNAMSIZ = 15;

/** What the running kernel can do; the description degrades when a feature is missing. */
export interface LabFeatures {
  /** CONFIG_BONDING: the switch-side 802.3ad bond per node. */
  readonly bonding: boolean;
  /** CONFIG_VLAN_8021Q: the node VLAN's gateway interface. */
  readonly vlan: boolean;
  /** CONFIG_BRIDGE_VLAN_FILTERING: PVID/tagged VLANs per bridge port. */
  readonly vlanFiltering: boolean;
}

export const ALL_FEATURES: LabFeatures = { bonding: true, vlan: true, vlanFiltering: true };

export interface LabTap {
  readonly name: string;
  /** The node NIC this tap is cabled to, e.g. "nic0". */
  readonly nic: string;
  readonly mac: string;
}

export interface LabNodePort {
  readonly node: string;
  readonly firmware: NodePlan['firmware'];
  /** One tap per NIC, in the node's NIC order (QEMU's first NIC is the PXE NIC). */
  readonly taps: readonly LabTap[];
  /**
   * The switch side of the node's LACP bond (standing in for the MCLAG PortChannel). Linux selects
   * an aggregator even without an LACP partner, so it forwards while the node PXE-boots on one NIC.
   */
  readonly bond: { readonly name: string; readonly mode: '802.3ad'; readonly lacpRate: 'fast' } | undefined;
  /** The bridge port: the bond, or each tap when bonding is unavailable. */
  readonly bridgePorts: readonly string[];
  /** Untagged VLAN (PVID) on the bridge port: provisioning. */
  readonly pvid: number;
  readonly tagged: readonly number[];
}

export interface LabNetwork {
  readonly namespace: string;
  readonly rack: string;
  /** 'switched': VLAN-aware bridge, bonds and the node VLAN. 'flat': one untagged L2 (provisioning only). */
  readonly mode: 'switched' | 'flat';
  readonly mtu: number;
  readonly bridge: {
    readonly name: string;
    readonly vlanFiltering: boolean;
    /** The bridge itself (self): untagged provisioning VLAN. */
    readonly pvid: number;
    readonly tagged: readonly number[];
    /** CIDR form: the bootstrap host's address, then the provisioning gateway. */
    readonly addresses: readonly string[];
  };
  readonly vlanInterfaces: readonly {
    readonly name: string;
    readonly parent: string;
    readonly vlan: number;
    readonly addresses: readonly string[];
  }[];
  readonly nodes: readonly LabNodePort[];
  /** What this kernel cannot rehearse, in words for the user. Empty in 'switched' mode. */
  readonly limitations: readonly string[];
}

export interface LabNetworkOptions {
  /** The rack to build; the bootstrap host's rack by default. */
  readonly rack?: string;
  readonly features?: LabFeatures;
}

function ifname(name: string): string {
  if (name.length > IFNAMSIZ || !/^[A-Za-z0-9._-]+$/.test(name))
    throw new Error(
      `lab interface name ${JSON.stringify(name)} is not a valid Linux name (≤ ${IFNAMSIZ} chars)`,
    );
  return name;
}

function rackOf(plan: Plan, name: string): RackPlan {
  const rack = plan.racks.find((r) => r.name === name);
  if (!rack) throw new Error(`rack ${name} is not in the plan of region ${plan.region.name}`);
  return rack;
}

/**
 * Describes the lab network for one rack of `plan`: namespace `civo-<region>`, a bridge that plays the
 * ToR pair, a tap per node NIC, the provisioning gateway and bootstrap address on the bridge and the
 * node VLAN's gateway on a VLAN interface. Pure; every value comes from the Plan.
 */
export function labNetwork(
  plan: Plan,
  region: string = plan.region.name,
  options: LabNetworkOptions = {},
): LabNetwork {
  const rack = rackOf(plan, options.rack ?? plan.bootstrap.rack);
  const features = options.features ?? ALL_FEATURES;
  const switched = features.bonding && features.vlan && features.vlanFiltering;
  const bridge = ifname(`br-${rack.name}`);
  const prov = rack.provisioning;
  const nodeNet = rack.node;
  const members = plan.nodes.filter((n) => n.rack === rack.name);
  const mtu = Math.max(1500, ...members.map((n) => n.bond.mtu));

  const bridgeAddresses = [
    ...(plan.bootstrap.rack === rack.name ? [`${plan.bootstrap.address}/${prov.prefix}`] : []),
    `${prov.gateway}/${prov.prefix}`,
  ];

  const nodes = members.map((n): LabNodePort => {
    // The PortChannel number is stable across plan changes (allocated), unlike a list index.
    const k = n.portChannel;
    const taps = n.nics.map((nic, i) => ({
      name: ifname(`n${k}${String.fromCharCode(97 + i)}`),
      nic: nic.name,
      mac: nic.mac,
    }));
    const bond = switched
      ? { name: ifname(`po${k}`), mode: '802.3ad' as const, lacpRate: 'fast' as const }
      : undefined;
    return {
      node: n.name,
      firmware: n.firmware,
      taps,
      bond,
      bridgePorts: bond ? [bond.name] : taps.map((t) => t.name),
      pvid: prov.vlan,
      tagged: switched ? [nodeNet.vlan] : [],
    };
  });

  const limitations: string[] = [];
  if (!switched) {
    const missing = [
      ...(features.bonding ? [] : ['bonding (CONFIG_BONDING)']),
      ...(features.vlan ? [] : ['802.1Q VLANs (CONFIG_VLAN_8021Q)']),
      ...(features.vlanFiltering ? [] : ['bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING)']),
    ];
    limitations.push(
      `this kernel lacks ${missing.join(', ')}: the lab is one flat untagged L2 for the provisioning VLAN ${prov.vlan}; ` +
        `the switch-side LACP bonds and the node VLAN ${nodeNet.vlan} (gateway ${nodeNet.gateway}) are not rehearsed`,
    );
  }

  return {
    namespace: `civo-${region}`,
    rack: rack.name,
    mode: switched ? 'switched' : 'flat',
    mtu,
    bridge: {
      name: bridge,
      vlanFiltering: switched,
      pvid: prov.vlan,
      tagged: switched ? [nodeNet.vlan] : [],
      addresses: bridgeAddresses,
    },
    vlanInterfaces: switched
      ? [
          {
            name: ifname(`${bridge}.${nodeNet.vlan}`),
            parent: bridge,
            vlan: nodeNet.vlan,
            addresses: [`${nodeNet.gateway}/${nodeNet.prefix}`],
          },
        ]
      : [],
    nodes,
    limitations,
  };
}

// ---------------------------------------------------------------------------------------------
// Executor

export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion, never throws on a non-zero exit. Injected so tests can record calls. */
export type Exec = (file: string, args: readonly string[]) => Promise<ExecResult>;

export const execCommand: Exec = async (file, args) => {
  const r = await execa(file, args, { reject: false, stdin: 'ignore' });
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
};

/** One command; `tolerate` matches the error output of a harmless failure (already there / already gone). */
export interface LabStep {
  readonly argv: readonly [string, ...string[]];
  readonly tolerate?: RegExp;
}

export class LabNetworkError extends Error {
  constructor(
    message: string,
    readonly argv: readonly string[],
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'LabNetworkError';
  }
}

const EXISTS = /File exists|resource busy/i;
const GONE = /Cannot find device|does not exist|No such file|Invalid argument|not found/i;

/**
 * The commands that create `net`, in order. Each is idempotent or tolerates "already exists", so
 * running them again after a partial run converges.
 */
export function createSteps(net: LabNetwork): LabStep[] {
  const ns = net.namespace;
  const ip = (...a: string[]): LabStep['argv'] => ['ip', '-n', ns, ...a];
  const br = (...a: string[]): LabStep['argv'] => ['bridge', '-n', ns, ...a];
  const b = net.bridge;
  const mtu = String(net.mtu);
  const steps: LabStep[] = [
    { argv: ['ip', 'netns', 'add', ns], tolerate: EXISTS },
    { argv: ip('link', 'set', 'dev', 'lo', 'up') },
    // The bridge is created plain and configured with `set`, so an existing one converges too.
    { argv: ip('link', 'add', 'name', b.name, 'type', 'bridge', 'stp_state', '0'), tolerate: EXISTS },
  ];
  if (b.vlanFiltering)
    steps.push({
      argv: ip(
        'link',
        'set',
        'dev',
        b.name,
        'type',
        'bridge',
        'vlan_filtering',
        '1',
        'vlan_default_pvid',
        '0',
      ),
    });
  steps.push({ argv: ip('link', 'set', 'dev', b.name, 'mtu', mtu, 'up') });
  if (b.vlanFiltering) {
    steps.push({ argv: br('vlan', 'add', 'vid', String(b.pvid), 'dev', b.name, 'pvid', 'untagged', 'self') });
    for (const v of b.tagged)
      steps.push({ argv: br('vlan', 'add', 'vid', String(v), 'dev', b.name, 'self') });
  }
  for (const a of b.addresses) steps.push({ argv: ip('addr', 'replace', a, 'dev', b.name) });
  for (const v of net.vlanInterfaces) {
    steps.push(
      {
        argv: ip('link', 'add', 'link', v.parent, 'name', v.name, 'type', 'vlan', 'id', String(v.vlan)),
        tolerate: EXISTS,
      },
      { argv: ip('link', 'set', 'dev', v.name, 'up') },
      ...v.addresses.map((a): LabStep => ({ argv: ip('addr', 'replace', a, 'dev', v.name) })),
    );
  }
  // The namespace routes between its VLANs like the ToR's SVIs do.
  steps.push({ argv: ['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'] });

  for (const n of net.nodes) {
    if (n.bond)
      steps.push({
        argv: ip(
          'link',
          'add',
          'name',
          n.bond.name,
          'type',
          'bond',
          'mode',
          n.bond.mode,
          'lacp_rate',
          n.bond.lacpRate,
          'miimon',
          '100',
        ),
        tolerate: EXISTS,
      });
    for (const t of n.taps) {
      // A new tap is down, as a bond slave must be when enslaved; re-enslaving to the same master is a no-op.
      steps.push({ argv: ip('tuntap', 'add', 'dev', t.name, 'mode', 'tap'), tolerate: EXISTS });
      steps.push({ argv: ip('link', 'set', 'dev', t.name, 'master', n.bond ? n.bond.name : b.name) });
    }
    if (n.bond) steps.push({ argv: ip('link', 'set', 'dev', n.bond.name, 'master', b.name) });
    for (const dev of [...(n.bond ? [n.bond.name] : []), ...n.taps.map((t) => t.name)])
      steps.push({ argv: ip('link', 'set', 'dev', dev, 'mtu', mtu, 'up') });
    if (b.vlanFiltering)
      for (const port of n.bridgePorts) {
        steps.push({ argv: br('vlan', 'add', 'vid', String(n.pvid), 'dev', port, 'pvid', 'untagged') });
        for (const v of n.tagged) steps.push({ argv: br('vlan', 'add', 'vid', String(v), 'dev', port) });
      }
  }
  return steps;
}

/** The links inside the namespace, most dependent first: deleting them before the namespace leaves no tap behind. */
export function destroySteps(net: LabNetwork): LabStep[] {
  const ns = net.namespace;
  const del = (dev: string): LabStep => ({
    argv: ['ip', '-n', ns, 'link', 'del', 'dev', dev],
    tolerate: GONE,
  });
  return [
    ...net.nodes.flatMap((n) => [...n.taps.map((t) => del(t.name)), ...(n.bond ? [del(n.bond.name)] : [])]),
    ...net.vlanInterfaces.map((v) => del(v.name)),
    del(net.bridge.name),
    { argv: ['ip', 'netns', 'del', ns], tolerate: GONE },
  ];
}

async function run(exec: Exec, step: LabStep): Promise<void> {
  const [file, ...args] = step.argv;
  const r = await exec(file, args);
  if (r.exitCode === 0) return;
  if (step.tolerate?.test(r.stderr)) return;
  throw new LabNetworkError(
    `${step.argv.join(' ')} failed: ${r.stderr.trim() || `exit ${r.exitCode}`}`,
    step.argv,
    r.stderr,
  );
}

export async function createLabNetwork(net: LabNetwork, exec: Exec = execCommand): Promise<void> {
  for (const step of createSteps(net)) await run(exec, step);
}

export interface DestroyOptions {
  /** How long processes left in the namespace get after SIGTERM before SIGKILL. */
  readonly graceMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The processes running in network namespace `ns` (none when it does not exist). */
export async function namespacePids(exec: Exec, ns: string): Promise<string[]> {
  const r = await exec('ip', ['netns', 'pids', ns]);
  return r.exitCode === 0 ? r.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p)) : [];
}

/**
 * Removes every trace of `net`: processes still running in the namespace (a QEMU holding a tap keeps the
 * namespace alive), its links, the namespace. Tolerates a partial or absent network.
 */
export async function destroyLabNetwork(
  net: LabNetwork,
  exec: Exec = execCommand,
  options: DestroyOptions = {},
): Promise<void> {
  const sleep = options.sleep ?? defaultSleep;
  const grace = options.graceMs ?? 5000;
  let pids = await namespacePids(exec, net.namespace);
  if (pids.length > 0) {
    await exec('kill', ['-TERM', ...pids]);
    for (let waited = 0; waited < grace && pids.length > 0; waited += 100) {
      await sleep(100);
      pids = await namespacePids(exec, net.namespace);
    }
    if (pids.length > 0) await exec('kill', ['-KILL', ...pids]);
  }
  for (const step of destroySteps(net)) await run(exec, step);
}

/**
 * Finds out which lab features this kernel supports by trying them in a scratch namespace.
 * Lab hosts without modules (some CI VMs) lack bonding and 802.1Q.
 */
export async function probeLabFeatures(
  exec: Exec = execCommand,
  scratch = `civo-probe-${process.pid}`,
): Promise<LabFeatures> {
  const ip = (...a: string[]) => exec('ip', ['-n', scratch, ...a]);
  const add = await exec('ip', ['netns', 'add', scratch]);
  if (add.exitCode !== 0)
    throw new LabNetworkError(
      `cannot create network namespace ${scratch}: ${add.stderr.trim()}`,
      ['ip', 'netns', 'add', scratch],
      add.stderr,
    );
  try {
    const bonding = (await ip('link', 'add', 'probe-bond', 'type', 'bond', 'mode', '802.3ad')).exitCode === 0;
    const bridge = await ip('link', 'add', 'probe-br', 'type', 'bridge');
    const vlanFiltering =
      bridge.exitCode === 0 &&
      (await ip('link', 'set', 'dev', 'probe-br', 'type', 'bridge', 'vlan_filtering', '1')).exitCode === 0;
    const vlan =
      bridge.exitCode === 0 &&
      (await ip('link', 'add', 'link', 'probe-br', 'name', 'probe-br.2', 'type', 'vlan', 'id', '2'))
        .exitCode === 0;
    return { bonding, vlan, vlanFiltering };
  } finally {
    await exec('ip', ['netns', 'del', scratch]);
  }
}
