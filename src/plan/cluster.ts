// The cluster: which node initialises Kubernetes (recorded: once a cluster exists it never moves),
// the servers and agents, the API VIP and the cluster's networks.
import type { Region } from '../manifest/index.js';
import { intToIp } from '../manifest/index.js';
import type { AllocationTable, Allocations } from './allocator.js';
import type { NodePlan, Plan } from './types.js';

export interface ClusterSection {
  /** The nodes again, the init server's marked `clusterInit`. */
  readonly nodes: readonly NodePlan[];
  readonly kubernetes: Plan['kubernetes'];
}

export function planCluster(
  region: Region,
  nodes: readonly NodePlan[],
  recorded: AllocationTable,
  alloc: Allocations,
): ClusterSection {
  const recordedInit = recorded['kubernetes']?.['initServer'];
  const servers = nodes.filter((n) => n.role === 'control-plane');
  const initServer = servers.find((n) => n.name === recordedInit) ?? servers[0]!;
  alloc.record('kubernetes', 'initServer', initServer.name);
  const marked = nodes.map((n) =>
    n === initServer ? { ...n, k3s: { role: 'server' as const, clusterInit: true } } : n,
  );
  const m = region.manifest;
  return {
    nodes: marked,
    kubernetes: {
      distribution: m.kubernetes.distribution,
      version: m.kubernetes.version,
      airgap: m.kubernetes.airgap,
      apiVip: intToIp(region.apiVip),
      apiHost: `api.${region.domain}`,
      tlsSan: [intToIp(region.apiVip), `api.${region.domain}`],
      initServer: initServer.name,
      servers: servers.map((n) => n.name),
      agents: marked.filter((n) => n.role === 'worker').map((n) => n.name),
      clusterCidr: region.networks.pods.cidr,
      serviceCidr: region.networks.services.cidr,
      clusterDomain: m.kubernetes.clusterDomain,
    },
  };
}
