// Nodes: each server's plan (NICs, bond, addresses, BMC, labels) and the DHCP reservations of the
// rack's nodes, BMCs and switches, from the addresses the addressing contributor handed out.
import type { Node, Region } from '../manifest/index.js';
import { contains, intToIp, ipToInt } from '../manifest/index.js';
import type { Addressing } from './addressing.js';
import type { BmcPlan, DhcpReservation, NodePlan, RackPlan } from './types.js';

/** MTU on node bonds: below the switches' 9100 so VLAN and overlay headers always fit. */
export const NODE_MTU = 9000;

export interface NodesSection {
  /** In manifest order, rack by rack. */
  readonly nodes: readonly NodePlan[];
  /** Per rack: its nodes (provisioning, then BMC), then its switches. */
  readonly dhcp: readonly DhcpReservation[];
}

export function planNodes(region: Region, addressing: Addressing): NodesSection {
  const nodes: NodePlan[] = [];
  const dhcp: DhcpReservation[] = [];
  for (const rack of region.racks) {
    const {
      rack: rackPlan,
      oobNet,
      provHosts,
      nodeHosts,
      oobHosts,
      portChannels,
    } = addressing.byRack.get(rack.name)!;
    for (const node of rack.nodes) {
      const plan = planNode(region, node, rackPlan, {
        provisioning: provHosts.get(node.name)!,
        node: nodeHosts.get(node.name)!,
        bmc: oobHosts.get(`${node.name}-bmc`),
        portChannel: portChannels.get(node.name)!,
        podCidr: addressing.podCidrs.get(node.name)!,
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
      if (plan.bmc?.mac && contains(oobNet, ipToInt(plan.bmc.address))) {
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
  return { nodes, dhcp };
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
