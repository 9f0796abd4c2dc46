// The planner: Region + recorded allocations → Plan + allocations to record. Pure.
// Each contributor returns its section of the Plan: addressing hands out every number, nodes lays out
// the servers and their DHCP reservations, cluster picks the init server, fabric plans the switches
// (ports, LAGs/MCLAG, VLANs, routed links, BGP sessions and policy), links lists the cables. This
// function only calls them in order and assembles what they return.
import type { Region } from '../manifest/index.js';
import { intToIp } from '../manifest/index.js';
import { allocateAddressing } from './addressing.js';
import { Allocations, renameRecorded, type AllocationTable, type Orphan } from './allocator.js';
import { planCluster } from './cluster.js';
import { planSwitches } from './fabric.js';
import { planLinks } from './links.js';
import { planNodes } from './nodes.js';
import type { Plan } from './types.js';

export { NODE_MTU } from './nodes.js';

export interface PlanOptions {
  /** Release allocations of things no longer in the manifest. */
  readonly prune: boolean;
}

export interface PlanResult {
  readonly plan: Plan;
  readonly allocations: AllocationTable;
  readonly orphans: readonly Orphan[];
}

export function planRegion(region: Region, prior: AllocationTable, options: PlanOptions): PlanResult {
  const renames = new Map(
    region.nodes.flatMap((n) => (n.renamedFrom === undefined ? [] : [[n.renamedFrom, n.name] as const])),
  );
  const recorded = renameRecorded(prior, renames);
  const alloc = new Allocations(recorded, options.prune);
  const addressing = allocateAddressing(region, alloc);
  const { nodes: laidOut, dhcp } = planNodes(region, addressing);
  const { nodes, kubernetes } = planCluster(region, laidOut, recorded, alloc);
  const switches = planSwitches(region, addressing, nodes);
  const links = planLinks(region, switches);

  const m = region.manifest;
  const bootstrapAddress = intToIp(region.bootstrap.address);
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
    racks: addressing.racks.map((r) => r.rack),
    nodes,
    switches,
    links,
    dhcp,
    kubernetes,
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
          ]
        : [
            { name: 'k3s/token', source: 'generated' as const },
            { name: 'k3s/agent-token', source: 'generated' as const },
          ]),
      // Both distributions hold the API VIP with keepalived on the control planes.
      { name: 'keepalived/password', source: 'generated' as const, format: 'vrrp' as const },
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
