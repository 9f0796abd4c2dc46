// Per-node cloud-init NoCloud seed: meta-data, user-data, network-config (v2).
// Written as data (toYaml: js-yaml's bytes, faster); checked in tests with Debian's cloud-init (schema, net-convert).
import { toYaml } from './yaml.js';
import type { NodePlan, Plan } from '../plan/index.js';

export function metaData(plan: Plan, node: NodePlan): string {
  return toYaml({ 'instance-id': `civostack-${plan.region.name}-${node.name}`, 'local-hostname': node.name });
}

export function userData(plan: Plan, node: NodePlan, authorizedKeys: readonly string[]): string {
  const config = {
    hostname: node.name,
    fqdn: node.fqdn,
    prefer_fqdn_over_hostname: false,
    manage_etc_hosts: true,
    // Only root, which exists and is left as it is (not locked): no distribution default user
    // (Debian's `debian`, with passwordless sudo and these same keys). civostack logs in as root,
    // and a region gets no login nobody asked for. (The schema refuses an empty list.)
    users: [{ name: 'root', lock_passwd: false }],
    disable_root: false,
    ssh_pwauth: false,
    ssh_authorized_keys: [...authorizedKeys],
    // Host keys come from the installer, which reported them to the boot server: keep them, so the
    // first SSH connection is checked against a key civostack already knows.
    ssh_deletekeys: false,
    timezone: 'UTC',
    write_files: [
      {
        path: '/etc/civostack/node.json',
        permissions: '0644',
        content: `${JSON.stringify({ region: plan.region.name, node: node.name, rack: node.rack, role: node.role })}\n`,
      },
    ],
  };
  return `#cloud-config\n${toYaml(config)}`;
}

/**
 * The LACP bond over both NICs (matched by MAC and renamed, so names are stable), the
 * provisioning network untagged on the bond and the node VLAN tagged with the default route.
 * cloud-init 22.4 (Debian 12) rejects `to: default`: routes are written as 0.0.0.0/0.
 */
export function networkConfig(plan: Plan, node: NodePlan): string {
  const ethernets = Object.fromEntries(
    node.nics.map((nic) => [
      nic.name,
      { match: { macaddress: nic.mac }, 'set-name': nic.name, mtu: node.bond.mtu },
    ]),
  );
  return toYaml({
    version: 2,
    ethernets,
    bonds: {
      [node.bond.name]: {
        interfaces: [...node.bond.members],
        mtu: node.bond.mtu,
        addresses: [`${node.provisioning.address}/${node.provisioning.prefix}`],
        parameters: {
          mode: node.bond.mode,
          'lacp-rate': 'fast',
          'mii-monitor-interval': 100,
          'transmit-hash-policy': 'layer3+4',
        },
      },
    },
    vlans: {
      [node.node.interface]: {
        id: node.node.vlan,
        link: node.bond.name,
        mtu: node.bond.mtu,
        addresses: [`${node.node.address}/${node.node.prefix}`],
        routes: [{ to: '0.0.0.0/0', via: node.node.gateway }],
        nameservers: { addresses: [...plan.os.nameservers], search: [plan.region.domain] },
      },
    },
  });
}
