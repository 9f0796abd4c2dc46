// A simulated transit provider: FRR announcing what a real upstream may send, good and bad. The
// border's import policy must keep the default route (or the full table, per session) and drop
// the rest: bogons, over-specifics, the region's own prefixes and its internal ranges.
import { intToIp, ipToInt } from '../../manifest/index.js';
import type { Plan } from '../../plan/index.js';
import type { TransitSession } from './topology.js';

export type AnnouncementKind = 'default' | 'internet' | 'bogon' | 'over-specific' | 'own' | 'internal';

export interface Announcement {
  readonly prefix: string;
  readonly kind: AnnouncementKind;
}

/** Public prefixes outside every bogon range, standing in for the internet. */
export const INTERNET = ['1.1.1.0/24', '8.8.8.0/24', '9.9.9.0/24'] as const;
const BOGON_SAMPLES = ['192.168.0.0/16', '100.64.0.0/10', '198.18.0.0/15', '240.0.0.0/4'] as const;

/** The first half of a prefix: one bit more specific. */
function moreSpecific(cidr: string, by = 1): string {
  const [base, len] = cidr.split('/');
  return `${intToIp(ipToInt(base!))}/${Number(len) + by}`;
}

/** Everything a simulator announces, each with why it is there. */
export function announcements(plan: Plan): Announcement[] {
  return [
    { prefix: '0.0.0.0/0', kind: 'default' },
    ...INTERNET.map((prefix) => ({ prefix, kind: 'internet' as const })),
    ...BOGON_SAMPLES.map((prefix) => ({ prefix, kind: 'bogon' as const })),
    { prefix: '8.8.8.0/25', kind: 'over-specific' },
    { prefix: '1.1.1.128/26', kind: 'over-specific' },
    ...plan.networks.public.flatMap((p) => [
      { prefix: p, kind: 'own' as const },
      { prefix: moreSpecific(p), kind: 'own' as const },
    ]),
    { prefix: plan.networks.node, kind: 'internal' },
    { prefix: plan.networks.loopback, kind: 'internal' },
  ];
}

/** What the border must accept from a session: the default route, and the internet for a full table. */
export function accepted(session: TransitSession, all: readonly Announcement[]): string[] {
  return all
    .filter((a) => a.kind === 'default' || (session.acceptFullTable && a.kind === 'internet'))
    .map((a) => a.prefix);
}

/** `count` distinct public /24s for the max-prefix drill, from 11.0.0.0 up (outside every bogon). */
export function floodPrefixes(count: number): string[] {
  const base = ipToInt('11.0.0.0');
  return Array.from({ length: count }, (_, i) => `${intToIp(base + i * 256)}/24`);
}

/**
 * The simulator's frr.conf. It originates without matching routes (no import check) and without
 * policy (a provider's view is not ours to rehearse); reconnects fast so the drill restores quickly.
 */
export function transitConfig(
  session: TransitSession,
  all: readonly Announcement[],
  password: string,
): string {
  const peer = session.borderAddress;
  return [
    `! ${session.device}: simulated transit ${session.name} (AS${session.asn}) for ${session.border}. Lab only.`,
    'frr defaults datacenter',
    `hostname ${session.device}`,
    '!',
    `router bgp ${session.asn}`,
    ` bgp router-id ${session.address.split('/')[0]!}`,
    ' no bgp ebgp-requires-policy',
    ' no bgp network import-check',
    ` neighbor ${peer} remote-as ${session.borderAsn}`,
    ` neighbor ${peer} password ${password}`,
    ` neighbor ${peer} timers connect 1`,
    ' !',
    ' address-family ipv4 unicast',
    ...all.map((a) => `  network ${a.prefix}`),
    ' exit-address-family',
    'exit',
    '',
  ].join('\n');
}
