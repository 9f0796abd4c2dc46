// The fabric lab's shape, from the Plan only: one network namespace per ToR, border router and
// simulated transit provider, a veth pair per cable, and the addresses config_db.json gives each
// port (what FRR does not configure itself). Pure: data in, data out.
import type { Plan, SwitchPlan } from '../../plan/index.js';

/** Linux rejects interface names longer than IFNAMSIZ - 1. */
const IFNAMSIZ = 15;

export type FabricRole = 'tor' | 'border' | 'transit';

export interface FabricPort {
  /** The interface name inside the namespace: the SONiC port name FRR's config refers to. */
  readonly name: string;
  /** CIDR form, when the Plan gives the port an address. */
  readonly address: string | undefined;
}

export interface FabricDummy {
  readonly name: string;
  readonly addresses: readonly string[];
}

export interface FabricDevice {
  readonly name: string;
  readonly role: FabricRole;
  readonly namespace: string;
  /** ToR and border: the loopback (router id) on Loopback0. */
  readonly loopback: string | undefined;
  readonly ports: readonly FabricPort[];
  /** Loopback0 and the SVIs (Vlan10, Vlan20): interfaces that only hold an address (the subnets' stand-ins). */
  readonly dummies: readonly FabricDummy[];
}

export interface FabricLink {
  /** "br1:Ethernet64—r01-tor1:Ethernet48": how the drill names it. */
  readonly id: string;
  readonly kind: 'uplink' | 'peer-link' | 'transit';
  readonly a: { readonly device: string; readonly port: string };
  readonly b: { readonly device: string; readonly port: string };
}

/** One upstream session in the manifest, and the simulator that plays the provider's side. */
export interface TransitSession {
  readonly name: string;
  /** The simulator's device name (and namespace suffix). */
  readonly device: string;
  readonly border: string;
  readonly borderAsn: number;
  readonly borderAddress: string;
  readonly asn: number;
  /** The simulator's address, CIDR form (same prefix length as the border's side). */
  readonly address: string;
  readonly passwordSecret: string;
  readonly maxPrefixes: number;
  readonly acceptFullTable: boolean;
}

/** What a ToR must be reachable at from every border router: its loopback and its rack's subnets. */
export interface RackTargets {
  readonly rack: string;
  readonly tors: readonly { readonly name: string; readonly loopback: string }[];
  /** Gateway addresses of the provisioning and node subnets (the SVIs on both ToRs). */
  readonly subnets: readonly { readonly name: string; readonly cidr: string; readonly address: string }[];
}

export interface FabricTopology {
  readonly region: string;
  readonly prefix: string;
  readonly devices: readonly FabricDevice[];
  readonly links: readonly FabricLink[];
  readonly transits: readonly TransitSession[];
  readonly racks: readonly RackTargets[];
  /** The BGP sessions the Plan asks for, one entry per side: device → neighbour address. */
  readonly sessions: readonly { readonly device: string; readonly peer: string; readonly address: string }[];
  /** What this lab cannot rehearse, in words for the user. */
  readonly limitations: readonly string[];
}

export interface TopologyOptions {
  /** Namespace name prefix; every namespace is `<prefix>-<region>-<device>`. */
  readonly prefix?: string;
}

export const DEFAULT_PREFIX = 'cvfb';

function ifname(name: string): string {
  if (name.length > IFNAMSIZ || !/^[A-Za-z0-9._-]+$/.test(name))
    throw new Error(
      `fabric lab interface name ${JSON.stringify(name)} is not a valid Linux name (≤ ${IFNAMSIZ} chars)`,
    );
  return name;
}

/** The simulator device of an upstream session: unique per border and session name. */
export function transitDevice(border: string, session: string): string {
  return `transit-${border}-${session}`;
}

export function fabricNamespaces(prefix: string, region: string): string {
  return `${prefix}-${region}-`;
}

export function fabricTopology(plan: Plan, options: TopologyOptions = {}): FabricTopology {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const nsOf = (device: string) => `${fabricNamespaces(prefix, plan.region.name)}${device}`;
  const routed = plan.switches.filter((s) => s.role === 'tor' || s.role === 'border');
  const byName = new Map(routed.map((s) => [s.name, s]));
  const ports = new Map<string, FabricPort[]>();
  const addPort = (device: string, name: string, address: string | undefined) => {
    const list = ports.get(device) ?? [];
    list.push({ name: ifname(name), address });
    ports.set(device, list);
  };
  const addressOf = (sw: SwitchPlan, port: string) => sw.interfaces.find((i) => i.port === port)?.address;

  const links: FabricLink[] = [];
  const transits: TransitSession[] = [];
  for (const l of plan.links) {
    if (l.kind === 'server') continue;
    if (l.kind === 'transit') {
      const border = byName.get(l.a.device)!;
      const itf = border.interfaces.find((i) => i.port === l.a.port)!;
      const session = itf.peer.slice('transit:'.length);
      const n = border.bgp.neighbors.find((x) => x.kind === 'transit' && x.name === session)!;
      const device = transitDevice(border.name, session);
      const len = itf.address.split('/')[1]!;
      transits.push({
        name: session,
        device,
        border: border.name,
        borderAsn: border.asn!,
        borderAddress: n.localAddress,
        asn: n.asn,
        address: `${n.address}/${len}`,
        passwordSecret: n.password!.secret,
        maxPrefixes: n.maxPrefixes ?? 0,
        acceptFullTable: n.acceptFullTable ?? false,
      });
      addPort(border.name, l.a.port, itf.address);
      addPort(device, 'uplink', `${n.address}/${len}`);
      links.push({
        id: `${border.name}:${l.a.port}—${device}`,
        kind: 'transit',
        a: { device: border.name, port: l.a.port },
        b: { device, port: 'uplink' },
      });
      continue;
    }
    const a = byName.get(l.a.device);
    const b = byName.get(l.b.device);
    if (!a || !b) continue;
    addPort(a.name, l.a.port, addressOf(a, l.a.port));
    addPort(b.name, l.b.port, addressOf(b, l.b.port));
    links.push({ id: `${a.name}:${l.a.port}—${b.name}:${l.b.port}`, kind: l.kind, a: l.a, b: l.b });
  }

  // Without 802.1Q the MCLAG keepalive VLAN cannot ride the peer link: its address goes on the
  // first peer-link cable itself, so the two ToRs still reach each other over it.
  for (const tor of routed.filter((s) => s.role === 'tor')) {
    const keepalive = tor.vlans.find((v) => v.id === tor.mclag?.keepaliveVlan)?.address;
    const first = plan.links.find(
      (l) => l.kind === 'peer-link' && (l.a.device === tor.name || l.b.device === tor.name),
    );
    const port = first && (first.a.device === tor.name ? first.a.port : first.b.port);
    const list = ports.get(tor.name) ?? [];
    const i = list.findIndex((p) => p.name === port);
    if (i >= 0 && keepalive) list[i] = { name: list[i]!.name, address: keepalive };
  }

  const devices: FabricDevice[] = [
    ...routed.map((sw): FabricDevice => {
      const svis = sw.vlans
        .filter((v) => v.address !== undefined && v.id !== sw.mclag?.keepaliveVlan)
        .map((v) => ({ name: ifname(v.name), addresses: [v.address!] }));
      return {
        name: sw.name,
        role: sw.role as 'tor' | 'border',
        namespace: nsOf(sw.name),
        loopback: sw.loopback,
        ports: ports.get(sw.name) ?? [],
        dummies: [{ name: 'Loopback0', addresses: [`${sw.loopback!}/32`] }, ...svis],
      };
    }),
    ...transits.map((t): FabricDevice => ({
      name: t.device,
      role: 'transit',
      namespace: nsOf(t.device),
      loopback: undefined,
      ports: ports.get(t.device) ?? [],
      dummies: [],
    })),
  ];

  const racks: RackTargets[] = plan.racks.map((r) => ({
    rack: r.name,
    tors: r.tors.map((t) => ({ name: t, loopback: byName.get(t)!.loopback! })),
    subnets: [
      { name: 'provisioning', cidr: r.provisioning.cidr, address: r.provisioning.gateway },
      { name: 'node', cidr: r.node.cidr, address: r.node.gateway },
    ],
  }));

  const sessions = routed.flatMap((sw) =>
    sw.bgp.neighbors.map((n) => ({
      device: sw.name,
      peer: n.kind === 'transit' ? transitDevice(sw.name, n.name) : n.name,
      address: n.address,
    })),
  );

  return {
    region: plan.region.name,
    prefix,
    devices,
    links,
    transits,
    racks,
    sessions,
    limitations: [
      'MCLAG and LACP are not rehearsed: this kernel has no bonding and no 802.1Q, so the node port-channels, ' +
        'the peer-link PortChannel and the keepalive VLAN do not exist; each peer-link cable is a plain link ' +
        '(the keepalive address sits on the first one), and Loopback0 and each SVI are stand-in interfaces holding their address',
    ],
  };
}
