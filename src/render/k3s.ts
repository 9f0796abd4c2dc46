// Per-node K3s config.yaml. Tokens are referenced by file (written 0600 by the installer phase),
// never inlined; joining nodes point at the init server, the API VIP is in every certificate.
import { toYaml } from './yaml.js';
import type { NodePlan, Plan } from '../plan/index.js';

export const K3S_TOKEN_FILE = '/etc/rancher/k3s/token';
export const K3S_AGENT_TOKEN_FILE = '/etc/rancher/k3s/agent-token';

export function k3sConfig(plan: Plan, node: NodePlan): string {
  const k = plan.kubernetes;
  const init = plan.nodes.find((n) => n.name === k.initServer)!;
  const common = {
    'node-name': node.name,
    'node-ip': node.node.address,
    'flannel-iface': node.node.interface,
    'node-label': Object.entries(node.labels).map(([key, value]) => `${key}=${value}`),
    ...(node.taints.length > 0 ? { 'node-taint': [...node.taints] } : {}),
  };
  const config =
    node.k3s.role === 'server'
      ? {
          ...(node.k3s.clusterInit
            ? { 'cluster-init': true }
            : { server: `https://${init.node.address}:6443` }),
          'token-file': K3S_TOKEN_FILE,
          'agent-token-file': K3S_AGENT_TOKEN_FILE,
          'tls-san': [...k.tlsSan],
          'advertise-address': node.node.address,
          ...common,
          'cluster-cidr': k.clusterCidr,
          'service-cidr': k.serviceCidr,
          'cluster-domain': k.clusterDomain,
          disable: ['traefik', 'servicelb'],
          'write-kubeconfig-mode': '0600',
        }
      : // Agents join through the init server too: the VIP has no owner until the operator runs.
        { server: `https://${init.node.address}:6443`, 'token-file': K3S_AGENT_TOKEN_FILE, ...common };
  return `# ${node.name}: K3s ${node.k3s.role}${node.k3s.clusterInit ? ' (cluster-init)' : ''}, rendered by civostack.\n${toYaml(config)}`;
}
