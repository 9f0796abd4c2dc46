// Addressing: every number the region hands out, from the recorded table first. Rack subnets, host
// addresses, ASNs, loopbacks, /31s, pod ranges and port-channel numbers; the other contributors
// (nodes, fabric, cluster) only read what this returns.
import type { Region } from '../manifest/index.js';
import { intToIp, ipToInt, makeNetwork, RACK_SUBNET, type Network } from '../manifest/index.js';
import type { Allocations } from './allocator.js';
import type { RackPlan } from './types.js';

/** Per-rack address facts the node and fabric contributors read. */
export interface RackAddressing {
  readonly rack: RackPlan;
  /** The rack's OOB subnet: BMC reservations are only for addresses inside it. */
  readonly oobNet: Network;
  /** Switch name or `<node>-bmc` → address on the rack's OOB network. */
  readonly oobHosts: ReadonlyMap<string, string>;
  readonly provHosts: ReadonlyMap<string, string>;
  readonly nodeHosts: ReadonlyMap<string, string>;
  readonly portChannels: ReadonlyMap<string, number>;
}

export interface Addressing {
  /** In manifest order. */
  readonly racks: readonly RackAddressing[];
  readonly byRack: ReadonlyMap<string, RackAddressing>;
  /** Rack name (per-rack scheme) or ToR name (per-tor) → ASN. */
  readonly asns: ReadonlyMap<string, number>;
  readonly loopbacks: ReadonlyMap<string, string>;
  /** `peer-link:<rack>` and `uplink:<tor>:<port>` → a /31. */
  readonly links31: ReadonlyMap<string, string>;
  readonly podCidrs: ReadonlyMap<string, string>;
}

export function allocateAddressing(region: Region, alloc: Allocations): Addressing {
  const rackNames = region.racks.map((r) => r.name);
  const firstServer = region.nodes.find((n) => n.role === 'control-plane');

  // Rack subnets. The bootstrap host and the API VIP pin the block that holds them to a rack.
  const subnets = (key: 'oob' | 'provisioning' | 'node', pins: Map<string, number>) => {
    const { net, rackPrefix } = region.networks[key];
    const block = 2 ** (32 - rackPrefix);
    const slots = alloc.allocate(
      {
        name: `subnet.${key}`,
        size: net.size / block,
        encode: (slot) => `${intToIp(net.base + slot * block)}/${rackPrefix}`,
        decode: (value) => decodeBlock(String(value), net, rackPrefix),
      },
      rackNames,
      pins,
    );
    return new Map(
      [...slots].map(([rack, cidr]) => [rack, makeNetwork(ipToInt(cidr.split('/')[0]!), rackPrefix)]),
    );
  };
  const blockOf = (address: number, key: 'provisioning' | 'node'): number => {
    const { net, rackPrefix } = region.networks[key];
    return Math.floor((address - net.base) / 2 ** (32 - rackPrefix));
  };
  const oobNets = subnets('oob', new Map());
  const provNets = subnets(
    'provisioning',
    new Map([[region.bootstrap.rack, blockOf(region.bootstrap.address, 'provisioning')]]),
  );
  const nodeNets = subnets(
    'node',
    firstServer ? new Map([[firstServer.rack, blockOf(region.apiVip, 'node')]]) : new Map(),
  );

  const asnKeys =
    region.asn.scheme === 'per-rack' ? rackNames : region.racks.flatMap((r) => r.tors.map((t) => t.name));
  const privateTop = region.asn.torBase <= 65534 ? 65534 : 4294967294;
  const asns = alloc.allocate(
    {
      name: 'asn.tor',
      size: privateTop - region.asn.torBase + 1,
      encode: (slot) => region.asn.torBase + slot,
      decode: (value) => Number(value) - region.asn.torBase,
    },
    asnKeys,
  );

  const loopbackKeys = region.switches.filter((s) => s.role !== 'mgmt').map((s) => s.name);
  const lo = region.networks.loopback;
  const loopbacks = alloc.allocate(
    {
      name: 'loopback',
      size: lo.size,
      encode: (slot) => intToIp(lo.base + slot),
      decode: (value) => (typeof value === 'string' ? ipToInt(value) - lo.base : undefined),
      reserved: lo.size > 1 ? [0] : [],
    },
    loopbackKeys,
  );

  const p2p = region.networks.p2p;
  const linkKeys = region.racks.flatMap((r) => [
    `peer-link:${r.name}`,
    ...r.uplinks.map((u) => `uplink:${u.tor}:${u.port}`),
  ]);
  const links31 = alloc.allocate(
    {
      name: 'p2p',
      size: Math.floor(p2p.size / 2),
      encode: (slot) => `${intToIp(p2p.base + slot * 2)}/31`,
      decode: (value) => decodeBlock(String(value), p2p, 31),
    },
    linkKeys,
  );

  // A pod range per node (kubeadm's default /24, or the whole pods network when it is smaller),
  // recorded like every address: adding a node never moves another node's pods.
  const pods = region.networks.pods;
  const podPrefix = Math.max(pods.prefix, 24);
  const podBlock = 2 ** (32 - podPrefix);
  const podCidrs = alloc.allocate(
    {
      name: 'pods',
      size: Math.max(1, Math.floor(pods.size / podBlock)),
      encode: (slot) => `${intToIp(pods.base + slot * podBlock)}/${podPrefix}`,
      decode: (value) => decodeBlock(String(value), pods, podPrefix),
    },
    region.nodes.map((n) => n.name),
  );

  const pinnedInfra = [region.bootstrap.address, region.apiVip];
  const hosts = (pool: string, net: Network, keys: readonly string[]) =>
    alloc.allocate(
      {
        name: pool,
        size: net.size,
        encode: (slot) => intToIp(net.base + slot),
        decode: (value) => (typeof value === 'string' ? ipToInt(value) - net.base : undefined),
        reserved: [
          ...Array.from({ length: RACK_SUBNET.firstHost }, (_, i) => i),
          net.size - 1,
          ...pinnedInfra.map((a) => a - net.base).filter((o) => o >= 0 && o < net.size),
        ],
      },
      keys,
    );
  const subnet = (net: Network) => ({
    cidr: net.cidr,
    gateway: intToIp(net.base + RACK_SUBNET.gateway),
    prefix: net.prefix,
  });
  const bootstrapAddress = intToIp(region.bootstrap.address);

  const racks = region.racks.map((rack): RackAddressing => {
    const oob = oobNets.get(rack.name)!;
    const prov = provNets.get(rack.name)!;
    const nodeNet = nodeNets.get(rack.name)!;
    const names = rack.nodes.map((n) => n.name);
    const switchNames = [...rack.tors, ...(rack.mgmt ? [rack.mgmt] : []), ...rack.borders].map((s) => s.name);
    const provHosts = hosts(`host.provisioning.${rack.name}`, prov, names);
    const nodeHosts = hosts(`host.node.${rack.name}`, nodeNet, names);
    const bmcNodes = rack.nodes.filter((n) => n.bmcMac !== undefined).map((n) => `${n.name}-bmc`);
    const oobHosts = hosts(`host.oob.${rack.name}`, oob, [...switchNames, ...bmcNodes]);
    const portChannels = alloc.allocate(
      {
        name: `portchannel.${rack.name}`,
        size: 998,
        encode: (slot) => slot + 1,
        decode: (value) => Number(value) - 1,
      },
      names,
    );
    const plan: RackPlan = {
      name: rack.name,
      asn: asns.get(region.asn.scheme === 'per-rack' ? rack.name : rack.tors[0].name)!,
      oob: { ...subnet(oob), vlan: region.networks.oob.vlan },
      provisioning: { ...subnet(prov), vlan: region.networks.provisioning.vlan },
      node: { ...subnet(nodeNet), vlan: region.networks.node.vlan },
      tors: [rack.tors[0].name, rack.tors[1].name],
      mgmt: rack.mgmt?.name,
      dhcpRelay: rack.name === region.bootstrap.rack ? undefined : bootstrapAddress,
    };
    return { rack: plan, oobNet: oob, oobHosts, provHosts, nodeHosts, portChannels };
  });

  return {
    racks,
    byRack: new Map(racks.map((r) => [r.rack.name, r])),
    asns,
    loopbacks,
    links31,
    podCidrs,
  };
}

function decodeBlock(value: string, net: Network, prefix: number): number | undefined {
  const [ip, len] = value.split('/');
  if (ip === undefined || Number(len) !== prefix) return undefined;
  const offset = ipToInt(ip) - net.base;
  const block = 2 ** (32 - prefix);
  return offset % block === 0 ? offset / block : undefined;
}
