// The planner: Region + recorded allocations → Plan + allocations to record. Pure.
import type { Node, Region } from '../manifest/index.js';
import { contains, intToIp, ipToInt, makeNetwork, RACK_SUBNET, type Network } from '../manifest/index.js';
import { Allocations, renameRecorded, type AllocationTable, type Orphan } from './allocator.js';
import { planSwitches } from './fabric.js';
import type { BmcPlan, DhcpReservation, LinkPlan, NodePlan, Plan, RackPlan } from './types.js';

export interface PlanOptions {
  /** Release allocations of things no longer in the manifest. */
  readonly prune: boolean;
}

export interface PlanResult {
  readonly plan: Plan;
  readonly allocations: AllocationTable;
  readonly orphans: readonly Orphan[];
}

/** MTU on node bonds: below the switches' 9100 so VLAN and overlay headers always fit. */
export const NODE_MTU = 9000;
/** Per-rack address facts the fabric planner needs as well. */
export interface RackAddressing {
  readonly rack: RackPlan;
  readonly oobHosts: ReadonlyMap<string, string>;
}

export function planRegion(region: Region, prior: AllocationTable, options: PlanOptions): PlanResult {
  const renames = new Map(
    region.nodes.flatMap((n) => (n.renamedFrom === undefined ? [] : [[n.renamedFrom, n.name] as const])),
  );
  const recorded = renameRecorded(prior, renames);
  const alloc = new Allocations(recorded, options.prune);
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

  const hosts = (pool: string, net: Network, keys: readonly string[], pinned: readonly number[]) =>
    alloc.allocate(
      {
        name: pool,
        size: net.size,
        encode: (slot) => intToIp(net.base + slot),
        decode: (value) => (typeof value === 'string' ? ipToInt(value) - net.base : undefined),
        reserved: [
          ...Array.from({ length: RACK_SUBNET.firstHost }, (_, i) => i),
          net.size - 1,
          ...pinned.map((a) => a - net.base).filter((o) => o >= 0 && o < net.size),
        ],
      },
      keys,
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
  const racks: RackPlan[] = [];
  const nodes: NodePlan[] = [];
  const dhcp: DhcpReservation[] = [];
  const addressing = new Map<string, RackAddressing>();
  const bootstrapAddress = intToIp(region.bootstrap.address);

  for (const rack of region.racks) {
    const oob = oobNets.get(rack.name)!;
    const prov = provNets.get(rack.name)!;
    const nodeNet = nodeNets.get(rack.name)!;
    const names = rack.nodes.map((n) => n.name);
    const switchNames = [...rack.tors, ...(rack.mgmt ? [rack.mgmt] : []), ...rack.borders].map((s) => s.name);
    const provHosts = hosts(`host.provisioning.${rack.name}`, prov, names, pinnedInfra);
    const nodeHosts = hosts(`host.node.${rack.name}`, nodeNet, names, pinnedInfra);
    const bmcNodes = rack.nodes.filter((n) => n.bmcMac !== undefined).map((n) => `${n.name}-bmc`);
    const oobHosts = hosts(`host.oob.${rack.name}`, oob, [...switchNames, ...bmcNodes], pinnedInfra);
    const portChannels = alloc.allocate(
      {
        name: `portchannel.${rack.name}`,
        size: 998,
        encode: (slot) => slot + 1,
        decode: (value) => Number(value) - 1,
      },
      names,
    );
    const subnet = (net: Network) => ({
      cidr: net.cidr,
      gateway: intToIp(net.base + RACK_SUBNET.gateway),
      prefix: net.prefix,
    });
    const rackPlan: RackPlan = {
      name: rack.name,
      asn: asns.get(region.asn.scheme === 'per-rack' ? rack.name : rack.tors[0].name)!,
      oob: { ...subnet(oob), vlan: region.networks.oob.vlan },
      provisioning: { ...subnet(prov), vlan: region.networks.provisioning.vlan },
      node: { ...subnet(nodeNet), vlan: region.networks.node.vlan },
      tors: [rack.tors[0].name, rack.tors[1].name],
      mgmt: rack.mgmt?.name,
      dhcpRelay: rack.name === region.bootstrap.rack ? undefined : bootstrapAddress,
    };
    racks.push(rackPlan);
    addressing.set(rack.name, { rack: rackPlan, oobHosts });

    for (const node of rack.nodes) {
      const plan = planNode(region, node, rackPlan, {
        provisioning: provHosts.get(node.name)!,
        node: nodeHosts.get(node.name)!,
        bmc: oobHosts.get(`${node.name}-bmc`),
        portChannel: portChannels.get(node.name)!,
        podCidr: podCidrs.get(node.name)!,
      });
      nodes.push(plan);
      dhcp.push({
        network: 'provisioning',
        rack: rack.name,
        host: node.name,
        macs: node.nics.map((n) => n.mac),
        address: plan.provisioning.address,
        kind: 'node',
        ztp: false,
      });
      if (plan.bmc?.mac && contains(oob, ipToInt(plan.bmc.address))) {
        dhcp.push({
          network: 'oob',
          rack: rack.name,
          host: `${node.name}-bmc`,
          macs: [plan.bmc.mac],
          address: plan.bmc.address,
          kind: 'bmc',
          ztp: false,
        });
      }
    }
    for (const sw of [...rack.tors, ...(rack.mgmt ? [rack.mgmt] : []), ...rack.borders]) {
      dhcp.push({
        network: 'oob',
        rack: rack.name,
        host: sw.name,
        macs: [sw.mgmtMac],
        address: oobHosts.get(sw.name)!,
        kind: 'switch',
        ztp: true,
      });
    }
  }

  // The first K3s server (cluster-init) is recorded: once a cluster exists, it never moves.
  const recordedInit = recorded['kubernetes']?.['initServer'];
  const servers = nodes.filter((n) => n.role === 'control-plane');
  const initServer = servers.find((n) => n.name === recordedInit) ?? servers[0]!;
  alloc.record('kubernetes', 'initServer', initServer.name);
  const finalNodes = nodes.map((n) =>
    n === initServer ? { ...n, k3s: { role: 'server' as const, clusterInit: true } } : n,
  );

  const switches = planSwitches(region, {
    addressing,
    nodes: finalNodes,
    asns,
    loopbacks,
    links31,
  });
  const links = planLinks(region, switches);

  const m = region.manifest;
  const allocations = alloc.table();
  const plan: Plan = {
    apiVersion: 'civostack.io/v1alpha1',
    kind: 'Plan',
    region: { name: region.name, domain: region.domain },
    bootstrap: {
      rack: region.bootstrap.rack,
      address: bootstrapAddress,
      httpPort: region.bootstrap.httpPort,
      url: `http://${bootstrapAddress}:${region.bootstrap.httpPort}`,
    },
    networks: {
      oob: region.networks.oob.net.cidr,
      provisioning: region.networks.provisioning.net.cidr,
      node: region.networks.node.net.cidr,
      loopback: region.networks.loopback.cidr,
      p2p: region.networks.p2p.cidr,
      public: region.networks.public.map((n) => n.cidr),
      pods: region.networks.pods.cidr,
      services: region.networks.services.cidr,
    },
    racks,
    nodes: finalNodes,
    switches,
    links,
    dhcp,
    kubernetes: {
      distribution: m.kubernetes.distribution,
      version: m.kubernetes.version,
      airgap: m.kubernetes.airgap,
      apiVip: intToIp(region.apiVip),
      apiHost: `api.${region.domain}`,
      tlsSan: [intToIp(region.apiVip), `api.${region.domain}`],
      initServer: initServer.name,
      servers: servers.map((n) => n.name),
      agents: finalNodes.filter((n) => n.role === 'worker').map((n) => n.name),
      clusterCidr: region.networks.pods.cidr,
      serviceCidr: region.networks.services.cidr,
      clusterDomain: m.kubernetes.clusterDomain,
    },
    os: {
      profile: m.os.profile,
      image: m.os.image,
      installer: m.os.installer,
      sshAuthorizedKeys: m.os.sshAuthorizedKeys,
      sshAuthorizedKeyFiles: m.os.sshAuthorizedKeyFiles,
      nameservers: m.os.nameservers.length > 0 ? m.os.nameservers : [bootstrapAddress],
    },
    secrets: [
      ...(m.kubernetes.distribution === 'kubeadm'
        ? [
            { name: 'kubeadm/token', source: 'generated' as const, format: 'kubeadm-token' as const },
            { name: 'kubeadm/certificate-key', source: 'generated' as const, format: 'hex32' as const },
            { name: 'keepalived/password', source: 'generated' as const, format: 'vrrp' as const },
          ]
        : [
            { name: 'k3s/token', source: 'generated' as const },
            { name: 'k3s/agent-token', source: 'generated' as const },
          ]),
      { name: 'ssh/civostack_ed25519', source: 'generated' },
      ...region.switches.flatMap((sw) =>
        sw.upstreams.map((u) =>
          u.passwordFile
            ? { name: `bgp/${sw.name}/${u.name}`, source: 'file' as const, file: u.passwordFile }
            : { name: `bgp/${sw.name}/${u.name}`, source: 'generated' as const },
        ),
      ),
    ],
  };
  return { plan, allocations, orphans: alloc.orphaned() };
}

function planBmc(node: Node, allocated: string | undefined): BmcPlan | undefined {
  const explicit = node.bmc?.address === undefined ? undefined : intToIp(node.bmc.address);
  const address = explicit ?? (node.bmcMac ? allocated : undefined);
  if (address === undefined) return undefined;
  const access = node.bmc && {
    protocol: node.bmc.protocol,
    credentialsFile: node.bmc.credentialsFile,
    port: node.bmc.port,
    insecureTls: node.bmc.insecureTls,
    cipherSuite: node.bmc.cipherSuite,
  };
  return { mac: node.bmcMac, address, access };
}

function planNode(
  region: Region,
  node: Node,
  rack: RackPlan,
  a: {
    provisioning: string;
    node: string;
    bmc: string | undefined;
    portChannel: number;
    podCidr: string;
  },
): NodePlan {
  const vlan = region.networks.node.vlan;
  return {
    name: node.name,
    ...(node.renamedFrom === undefined ? {} : { renamedFrom: node.renamedFrom }),
    fqdn: `${node.name}.${region.domain}`,
    rack: node.rack,
    role: node.role,
    sku: node.sku.name,
    firmware: node.firmware,
    disk: node.sku.disk,
    bmc: planBmc(node, a.bmc),
    nics: node.nics.map((n) => ({
      name: n.name,
      mac: n.mac,
      speed: n.speed,
      switch: n.switch,
      port: n.port,
    })),
    bond: { name: 'bond0', mode: '802.3ad', members: node.nics.map((n) => n.name), mtu: NODE_MTU },
    provisioning: { address: a.provisioning, prefix: rack.provisioning.prefix, cidr: rack.provisioning.cidr },
    node: {
      interface: `bond0.${vlan}`,
      vlan,
      address: a.node,
      prefix: rack.node.prefix,
      gateway: rack.node.gateway,
      cidr: rack.node.cidr,
    },
    portChannel: a.portChannel,
    k3s: { role: node.role === 'control-plane' ? 'server' : 'agent', clusterInit: false },
    podCidr: a.podCidr,
    labels: {
      'topology.kubernetes.io/region': region.name,
      'topology.kubernetes.io/zone': node.rack,
      'civostack.io/sku': node.sku.name,
      ...node.labels,
    },
    taints: node.taints,
  };
}

function planLinks(region: Region, switches: ReturnType<typeof planSwitches>): LinkPlan[] {
  const links: LinkPlan[] = [];
  const byName = new Map(switches.map((s) => [s.name, s]));
  for (const node of region.nodes) {
    for (const nic of node.nics) {
      links.push({
        kind: 'server',
        a: { device: node.name, port: nic.name },
        b: { device: nic.switch, port: nic.port },
      });
    }
  }
  for (const rack of region.racks) {
    const [a, b] = rack.tors;
    a.model.peerLinkPorts.forEach((port, i) => {
      links.push({
        kind: 'peer-link',
        a: { device: a.name, port },
        b: { device: b.name, port: b.model.peerLinkPorts[i] ?? port },
      });
    });
    for (const u of rack.uplinks) {
      const tor = byName.get(u.tor)?.interfaces.find((i) => i.port === u.port);
      links.push({
        kind: 'uplink',
        a: { device: u.tor, port: u.port, ...(tor ? { address: tor.address } : {}) },
        b: { device: u.border, port: u.borderPort, ...(tor ? { address: `${tor.peerAddress}/31` } : {}) },
        ...(tor ? { subnet: subnetOf31(tor.address) } : {}),
      });
    }
  }
  for (const sw of region.switches) {
    for (const u of sw.upstreams) {
      links.push({
        kind: 'transit',
        a: { device: sw.name, port: u.port, address: u.address },
        b: { device: `transit:${u.name}`, port: '-', address: u.peerAddress },
      });
    }
  }
  return links;
}

function subnetOf31(address: string): string {
  const ip = ipToInt(address.split('/')[0]!);
  return `${intToIp(ip - (ip % 2))}/31`;
}

function decodeBlock(value: string, net: Network, prefix: number): number | undefined {
  const [ip, len] = value.split('/');
  if (ip === undefined || Number(len) !== prefix) return undefined;
  const offset = ipToInt(ip) - net.base;
  const block = 2 ** (32 - prefix);
  return offset % block === 0 ? offset / block : undefined;
}
