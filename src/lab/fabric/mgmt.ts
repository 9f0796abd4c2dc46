// The fabric lab's management network: how this host reaches each switch namespace at the address
// `region diff --live` and the fabric phase log in to, as across an out-of-band switch. One veth
// pair per switch: `eth0` in the namespace (SONiC's management port) holding the switch's
// management address as a /32, and a host end holding a link-local source address, with a /32
// route each way. No bridge and no subnet route on the host, so it never competes with the rack
// lab's own host link into the same OOB network. Pure: commands as data.
import { createHash } from 'node:crypto';
import type { Plan } from '../../plan/index.js';
import type { LabStep } from '../netns.js';
import type { FabricTopology } from './topology.js';

/** This host's side of every management link (RFC 3927 link-local: in no plan's networks). */
export const MGMT_HOST_ADDRESS = '169.254.100.1';

export interface MgmtLink {
  readonly device: string;
  readonly namespace: string;
  /** The switch's management address (its SSH address in the plan). */
  readonly address: string;
  readonly port: number;
  /** The host end: `<prefix>m` and a hash of the namespace (interface names are 15 characters at most). */
  readonly hostIf: string;
}

const EXISTS = /File exists/i;

export function mgmtLinks(plan: Plan, t: FabricTopology): MgmtLink[] {
  const ssh = new Map(plan.switches.map((s) => [s.name, s.ssh]));
  return t.devices
    .filter((d) => d.role !== 'transit')
    .map((d) => ({
      device: d.name,
      namespace: d.namespace,
      address: ssh.get(d.name)!.address,
      port: ssh.get(d.name)!.port,
      hostIf: `${t.prefix.slice(0, 5)}m${createHash('sha256').update(d.namespace).digest('hex').slice(0, 8)}`,
    }));
}

export function mgmtSteps(links: readonly MgmtLink[]): LabStep[] {
  return links.flatMap((l): LabStep[] => {
    const inNs = (...a: string[]): LabStep['argv'] => ['ip', '-n', l.namespace, ...a];
    return [
      {
        argv: ['ip', 'link', 'add', l.hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', l.namespace],
        tolerate: EXISTS,
      },
      // The alias names the namespace: `lab fabric down` finds a host end a killed run left by it.
      { argv: ['ip', 'link', 'set', 'dev', l.hostIf, 'alias', l.namespace] },
      { argv: ['ip', 'addr', 'replace', `${MGMT_HOST_ADDRESS}/32`, 'dev', l.hostIf] },
      { argv: ['ip', 'link', 'set', 'dev', l.hostIf, 'up'] },
      { argv: inNs('addr', 'replace', `${l.address}/32`, 'dev', 'eth0') },
      { argv: inNs('link', 'set', 'dev', 'eth0', 'up') },
      { argv: ['ip', 'route', 'replace', `${l.address}/32`, 'dev', l.hostIf, 'src', MGMT_HOST_ADDRESS] },
      { argv: inNs('route', 'replace', `${MGMT_HOST_ADDRESS}/32`, 'dev', 'eth0', 'src', l.address) },
      // A switch forwards IPv6 too; zebra prints `no ipv6 forwarding` where the kernel does not.
      {
        argv: ['ip', 'netns', 'exec', l.namespace, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1'],
        tolerate: /cannot stat|No such file/i,
      },
    ];
  });
}
