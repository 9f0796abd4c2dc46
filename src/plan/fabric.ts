// The fabric: each switch's ports, port-channels, VLANs, SVIs, routed links, BGP and MCLAG.
// Reference design (DESIGN.md): nodes bond one NIC to each ToR of an MCLAG pair; provisioning VLAN
// untagged (PXE), node VLAN tagged; eBGP per RFC 7938 from each ToR to each border router on /31s.
import type { Region, Switch } from '../manifest/index.js';
import { intToIp, ipToInt } from '../manifest/index.js';
import type { RackAddressing } from './plan.js';
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

interface FabricInputs {
  readonly addressing: ReadonlyMap<string, RackAddressing>;
  readonly nodes: readonly NodePlan[];
  readonly asns: ReadonlyMap<string, number>;
  readonly loopbacks: ReadonlyMap<string, string>;
  readonly links31: ReadonlyMap<string, string>;
}

export function planSwitches(region: Region, inputs: FabricInputs): SwitchPlan[] {
  const torAsn = (tor: Switch): number =>
    inputs.asns.get(region.asn.scheme === 'per-rack' ? tor.rack : tor.name)!;
  // /31 per uplink: the border router takes the even address, the ToR the odd one.
  const uplinkAddresses = new Map<string, { tor: string; border: string }>();
  for (const rack of region.racks) {
    for (const u of rack.uplinks) {
      const base = ipToInt(inputs.links31.get(`uplink:${u.tor}:${u.port}`)!.split('/')[0]!);
      uplinkAddresses.set(`${u.tor}:${u.port}`, { border: intToIp(base), tor: intToIp(base + 1) });
    }
  }
  // First switch of each name, as region.switches.find would return it, without a scan per uplink.
  const switchByName = new Map<string, Switch>();
  for (const s of region.switches) if (!switchByName.has(s.name)) switchByName.set(s.name, s);
  const nodesBySwitch = new Map<string, { node: NodePlan; port: string; nic: string }[]>();
  for (const node of inputs.nodes) {
    for (const nic of node.nics) {
      const list = nodesBySwitch.get(nic.switch) ?? [];
      list.push({ node, port: nic.port, nic: nic.name });
      nodesBySwitch.set(nic.switch, list);
    }
  }

  return region.racks.flatMap((rack) => {
    const { rack: rp, oobHosts } = inputs.addressing.get(rack.name)!;
    const base = (sw: Switch) => ({
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
    });
    const ports = (sw: Switch, used: ReadonlyMap<string, string>): PortPlan[] =>
      sw.model.ports.map((p) => ({
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

    const [torA, torB] = rack.tors;
    const keepalive = ipToInt(inputs.links31.get(`peer-link:${rack.name}`)!.split('/')[0]!);
    const tors = rack.tors.map((tor, i): SwitchPlan => {
      const peer = i === 0 ? torB : torA;
      const used = new Map<string, string>();
      const attached = nodesBySwitch.get(tor.name) ?? [];
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
        const a = uplinkAddresses.get(`${u.tor}:${u.port}`)!;
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
      const loopback = inputs.loopbacks.get(tor.name)!;
      return {
        ...base(tor),
        asn: torAsn(tor),
        loopback,
        ports: ports(tor, used),
        portChannels,
        vlans,
        interfaces,
        bgp: { neighbors, networks: [`${loopback}/32`, rp.provisioning.cidr, rp.node.cidr] },
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
    });

    const borders = rack.borders.map((br): SwitchPlan => {
      const used = new Map<string, string>();
      const interfaces: RoutedInterfacePlan[] = [];
      const neighbors: BgpNeighborPlan[] = [];
      for (const other of region.racks) {
        for (const u of other.uplinks.filter((x) => x.border === br.name)) {
          const a = uplinkAddresses.get(`${u.tor}:${u.port}`)!;
          used.set(u.borderPort, `${u.tor} ${u.port}`);
          interfaces.push({
            port: u.borderPort,
            address: `${a.border}/31`,
            peer: u.tor,
            peerAddress: a.tor,
            description: `${u.tor} ${u.port}`,
          });
          const tor = switchByName.get(u.tor)!;
          neighbors.push({
            address: a.tor,
            asn: torAsn(tor),
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
      const loopback = inputs.loopbacks.get(br.name)!;
      return {
        ...base(br),
        asn: region.asn.border,
        loopback,
        ports: ports(br, used),
        portChannels: [],
        vlans: [],
        interfaces,
        bgp: { neighbors, networks: [`${loopback}/32`, ...region.networks.public.map((n) => n.cidr)] },
        mclag: undefined,
      };
    });

    // The management switch is layer 2 only: every port is an access port of the OOB VLAN.
    const mgmtPorts = new Map(rack.mgmt?.model.ports.map((p) => [p.name, 'oob']) ?? []);
    const mgmt = rack.mgmt
      ? [
          {
            ...base(rack.mgmt),
            asn: undefined,
            loopback: undefined,
            ports: ports(rack.mgmt, mgmtPorts),
            portChannels: [],
            vlans: [
              {
                id: rp.oob.vlan,
                name: `Vlan${rp.oob.vlan}`,
                description: 'oob',
                members: rack.mgmt.model.ports.map((p) => ({ port: p.name, tagged: false })),
                address: undefined,
                dhcpServers: [],
              },
            ],
            interfaces: [],
            bgp: { neighbors: [], networks: [] },
            mclag: undefined,
          } satisfies SwitchPlan,
        ]
      : [];
    return [...tors, ...mgmt, ...borders];
  });
}

function pcNumber(name: string): number {
  return Number(name.slice('PortChannel'.length));
}

function portNumber(name: string): number {
  return Number(name.slice('Ethernet'.length));
}
