// Cables: every server NIC, peer link, uplink and transit port as a link between two devices, with
// the /31 of the routed ones as the fabric planned it.
import type { Region } from '../manifest/index.js';
import { intToIp, ipToInt } from '../manifest/index.js';
import type { LinkPlan, SwitchPlan } from './types.js';

export function planLinks(region: Region, switches: readonly SwitchPlan[]): LinkPlan[] {
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
