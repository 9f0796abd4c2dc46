// The fabric: each switch's ports, port-channels, VLANs, SVIs, routed links, BGP and MCLAG.
// Reference design (DESIGN.md): nodes bond one NIC to each ToR of an MCLAG pair; provisioning VLAN
// untagged (PXE), node VLAN tagged; eBGP per RFC 7938 from each ToR to each border router on /31s.
// Each switch is its own contributor (a ToR of the pair, a border router, a management switch): it
// returns the switch's whole section, BGP sessions and policy included.
import type { Rack, Region, Switch } from '../manifest/index.js';
import { intToIp, ipToInt } from '../manifest/index.js';
import type { Addressing, RackAddressing } from './addressing.js';
import { borderPolicy, torPolicy } from './bgp-policy.js';
import type {
  BgpNeighborPlan,
  NodePlan,
  PortChannelPlan,
  PortPlan,
  RoutedInterfacePlan,
  SwitchPlan,
  VlanPlan,
} from './types.js';

/** The peer link's PortChannel; node port-channels are numbered from 1. */
export const PEER_LINK = 'PortChannel999';
/** VLAN carrying the MCLAG keepalive session over the peer link. */
export const KEEPALIVE_VLAN = 4094;

/** What every switch contributor reads: the region, its addresses, and lookups built once. */
interface FabricContext {
  readonly region: Region;
  readonly addressing: Addressing;
  /** `<tor>:<port>` → the uplink's /31: the border router takes the even address, the ToR the odd one. */
  readonly uplinkAddresses: ReadonlyMap<string, { readonly tor: string; readonly border: string }>;
  /** First switch of each name, as region.switches.find would return it, without a scan per uplink. */
  readonly switchByName: ReadonlyMap<string, Switch>;
  /** Switch name → the node NICs cabled to it, in node order. */
  readonly nodesBySwitch: ReadonlyMap<string, readonly { node: NodePlan; port: string; nic: string }[]>;
}

export function planSwitches(
  region: Region,
  addressing: Addressing,
  nodes: readonly NodePlan[],
): SwitchPlan[] {
  const uplinkAddresses = new Map<string, { tor: string; border: string }>();
  for (const rack of region.racks) {
    for (const u of rack.uplinks) {
      const base = ipToInt(addressing.links31.get(`uplink:${u.tor}:${u.port}`)!.split('/')[0]!);
      uplinkAddresses.set(`${u.tor}:${u.port}`, { border: intToIp(base), tor: intToIp(base + 1) });
    }
  }
  const switchByName = new Map<string, Switch>();
  for (const s of region.switches) if (!switchByName.has(s.name)) switchByName.set(s.name, s);
  const nodesBySwitch = new Map<string, { node: NodePlan; port: string; nic: string }[]>();
  for (const node of nodes) {
    for (const nic of node.nics) {
      const list = nodesBySwitch.get(nic.switch) ?? [];
      list.push({ node, port: nic.port, nic: nic.name });
      nodesBySwitch.set(nic.switch, list);
    }
  }
  const ctx: FabricContext = { region, addressing, uplinkAddresses, switchByName, nodesBySwitch };

  return region.racks.flatMap((rack) => {
    const ra = addressing.byRack.get(rack.name)!;
    return [
      planTor(ctx, rack, ra, 0),
      planTor(ctx, rack, ra, 1),
      ...(rack.mgmt ? [planMgmt(rack, rack.mgmt, ra)] : []),
      ...rack.borders.map((br) => planBorder(ctx, rack, br, ra)),
    ];
  });
}

function torAsn(ctx: FabricContext, tor: Switch): number {
  return ctx.addressing.asns.get(ctx.region.asn.scheme === 'per-rack' ? tor.rack : tor.name)!;
}

/** The fields every switch has: identity, management address and where to log in. */
function switchBase(rack: Rack, sw: Switch, { rack: rp, oobHosts }: RackAddressing) {
  return {
    name: sw.name,
    role: sw.role,
    rack: rack.name,
    model: sw.model.name,
    hwsku: sw.model.hwsku,
    platform: sw.model.platform,
    mac: sw.mgmtMac,
    mtu: sw.model.mtu,
    mgmt: { address: oobHosts.get(sw.name)!, prefix: rp.oob.prefix, gateway: rp.oob.gateway },
    ssh: {
      address: sw.ssh.address ?? oobHosts.get(sw.name)!,
      port: sw.ssh.port,
      user: sw.ssh.user,
      hostKeyFile: sw.ssh.hostKeyFile,
    },
  };
}

/** Every front-panel port of the model: up with a description where something is cabled, else down. */
function switchPorts(sw: Switch, used: ReadonlyMap<string, string>): PortPlan[] {
  return sw.model.ports.map((p) => ({
    name: p.name,
    lanes: p.lanes,
    speed: p.speed,
    alias: p.alias,
    index: p.index,
    mtu: sw.model.mtu,
    adminStatus: used.has(p.name) ? 'up' : 'down',
    description: used.get(p.name) ?? '',
    fec: p.speed >= 25000 ? 'rs' : 'none',
  }));
}

/** ToR `i` of the rack's MCLAG pair: node LAGs, the peer link, the rack's VLANs and SVIs, uplinks. */
function planTor(ctx: FabricContext, rack: Rack, ra: RackAddressing, i: 0 | 1): SwitchPlan {
  const { region } = ctx;
  const rp = ra.rack;
  const tor = rack.tors[i];
  const peer = rack.tors[1 - i]!;
  const keepalive = ipToInt(ctx.addressing.links31.get(`peer-link:${rack.name}`)!.split('/')[0]!);
  const used = new Map<string, string>();
  const attached = ctx.nodesBySwitch.get(tor.name) ?? [];
  for (const { node, port, nic } of attached) used.set(port, `${node.name} ${nic}`);
  tor.model.peerLinkPorts.forEach((p, k) =>
    used.set(p, `peer-link ${peer.name} ${peer.model.peerLinkPorts[k] ?? p}`),
  );
  const uplinks = rack.uplinks.filter((u) => u.tor === tor.name);
  for (const u of uplinks) used.set(u.port, `${u.border} ${u.borderPort}`);

  const portChannels: PortChannelPlan[] = attached.map(({ node, port }) => ({
    name: `PortChannel${node.portChannel}`,
    members: [port],
    mtu: tor.model.mtu,
    // LACP fallback on the first ToR only: a PXE-booting node's single link comes up before
    // its bond exists, and only one ToR may forward it or the pair would loop.
    fallback: i === 0,
    minLinks: 1,
    description: node.name,
    mclag: true,
  }));
  portChannels.push({
    name: PEER_LINK,
    members: [...tor.model.peerLinkPorts],
    mtu: tor.model.mtu,
    fallback: false,
    minLinks: 1,
    description: `peer-link ${peer.name}`,
    mclag: false,
  });
  portChannels.sort((a, b) => pcNumber(a.name) - pcNumber(b.name));
  const nodePcs = portChannels.filter((pc) => pc.mclag).map((pc) => pc.name);
  const vlans: VlanPlan[] = [
    {
      id: rp.provisioning.vlan,
      name: `Vlan${rp.provisioning.vlan}`,
      description: 'provisioning',
      members: [...nodePcs.map((port) => ({ port, tagged: false })), { port: PEER_LINK, tagged: true }],
      address: `${rp.provisioning.gateway}/${rp.provisioning.prefix}`,
      dhcpServers: rp.dhcpRelay ? [rp.dhcpRelay] : [],
    },
    {
      id: rp.node.vlan,
      name: `Vlan${rp.node.vlan}`,
      description: 'node',
      members: [...nodePcs.map((port) => ({ port, tagged: true })), { port: PEER_LINK, tagged: true }],
      address: `${rp.node.gateway}/${rp.node.prefix}`,
      dhcpServers: [],
    },
    {
      id: KEEPALIVE_VLAN,
      name: `Vlan${KEEPALIVE_VLAN}`,
      description: 'mclag-keepalive',
      members: [{ port: PEER_LINK, tagged: true }],
      address: `${intToIp(keepalive + i)}/31`,
      dhcpServers: [],
    },
  ].sort((a, b) => a.id - b.id);
  const interfaces: RoutedInterfacePlan[] = uplinks.map((u) => {
    const a = ctx.uplinkAddresses.get(`${u.tor}:${u.port}`)!;
    return {
      port: u.port,
      address: `${a.tor}/31`,
      peer: u.border,
      peerAddress: a.border,
      description: `${u.border} ${u.borderPort}`,
    };
  });
  const neighbors: BgpNeighborPlan[] = interfaces.map((itf) => ({
    address: itf.peerAddress,
    asn: region.asn.border,
    name: itf.peer,
    localAddress: itf.address.split('/')[0]!,
    kind: 'fabric',
  }));
  const loopback = ctx.addressing.loopbacks.get(tor.name)!;
  const networks = [`${loopback}/32`, rp.provisioning.cidr, rp.node.cidr];
  return {
    ...switchBase(rack, tor, ra),
    asn: torAsn(ctx, tor),
    loopback,
    ports: switchPorts(tor, used),
    portChannels,
    vlans,
    interfaces,
    bgp: { neighbors, networks, policy: torPolicy(region, networks) },
    mclag: {
      domainId: 1,
      sourceIp: intToIp(keepalive + i),
      peerIp: intToIp(keepalive + 1 - i),
      peerLink: PEER_LINK,
      keepaliveVlan: KEEPALIVE_VLAN,
      members: nodePcs,
      fallbackOwner: i === 0,
    },
  };
}

/** A border router: a routed /31 and an eBGP session to every ToR cabled to it, and its transit. */
function planBorder(ctx: FabricContext, rack: Rack, br: Switch, ra: RackAddressing): SwitchPlan {
  const { region } = ctx;
  const used = new Map<string, string>();
  const interfaces: RoutedInterfacePlan[] = [];
  const neighbors: BgpNeighborPlan[] = [];
  for (const other of region.racks) {
    for (const u of other.uplinks.filter((x) => x.border === br.name)) {
      const a = ctx.uplinkAddresses.get(`${u.tor}:${u.port}`)!;
      used.set(u.borderPort, `${u.tor} ${u.port}`);
      interfaces.push({
        port: u.borderPort,
        address: `${a.border}/31`,
        peer: u.tor,
        peerAddress: a.tor,
        description: `${u.tor} ${u.port}`,
      });
      neighbors.push({
        address: a.tor,
        asn: torAsn(ctx, ctx.switchByName.get(u.tor)!),
        name: u.tor,
        localAddress: a.border,
        kind: 'fabric',
      });
    }
  }
  for (const up of br.upstreams) {
    used.set(up.port, `transit ${up.name}`);
    interfaces.push({
      port: up.port,
      address: up.address,
      peer: `transit:${up.name}`,
      peerAddress: up.peerAddress,
      description: `transit ${up.name} AS${up.peerAsn}`,
    });
    neighbors.push({
      address: up.peerAddress,
      asn: up.peerAsn,
      name: up.name,
      localAddress: up.address.split('/')[0]!,
      kind: 'transit',
      password: { secret: `bgp/${br.name}/${up.name}` },
      maxPrefixes: up.maxPrefixes,
      acceptFullTable: up.acceptFullTable,
    });
  }
  interfaces.sort((a, b) => portNumber(a.port) - portNumber(b.port));
  const loopback = ctx.addressing.loopbacks.get(br.name)!;
  return {
    ...switchBase(rack, br, ra),
    asn: region.asn.border,
    loopback,
    ports: switchPorts(br, used),
    portChannels: [],
    vlans: [],
    interfaces,
    bgp: {
      neighbors,
      networks: [`${loopback}/32`, ...region.networks.public.map((n) => n.cidr)],
      policy: borderPolicy(
        region,
        br.upstreams.map((u) => u.peerAsn),
      ),
    },
    mclag: undefined,
  };
}

/** The management switch is layer 2 only: every port is an access port of the OOB VLAN. */
function planMgmt(rack: Rack, mgmt: Switch, ra: RackAddressing): SwitchPlan {
  const oob = ra.rack.oob;
  return {
    ...switchBase(rack, mgmt, ra),
    asn: undefined,
    loopback: undefined,
    ports: switchPorts(mgmt, new Map(mgmt.model.ports.map((p) => [p.name, 'oob']))),
    portChannels: [],
    vlans: [
      {
        id: oob.vlan,
        name: `Vlan${oob.vlan}`,
        description: 'oob',
        members: mgmt.model.ports.map((p) => ({ port: p.name, tagged: false })),
        address: undefined,
        dhcpServers: [],
      },
    ],
    interfaces: [],
    bgp: { neighbors: [], networks: [], policy: undefined },
    mclag: undefined,
  };
}

function pcNumber(name: string): number {
  return Number(name.slice('PortChannel'.length));
}

function portNumber(name: string): number {
  return Number(name.slice('Ethernet'.length));
}
