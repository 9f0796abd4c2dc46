// FRR configuration for ToRs and border routers: the view each template reads, from the plan.
import type { Plan, SwitchPlan } from '../plan/index.js';
import type { Engine } from './engine.js';
import type { SecretValues } from './secrets.js';

/** IPv4 bogons (RFC 7454 §6.1.1; RFC 6890 special-purpose blocks): never accepted from transit. */
export const BOGONS = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '192.168.0.0/16',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '224.0.0.0/4',
  '240.0.0.0/4',
] as const;

const routeMapIn = (n: { acceptFullTable?: boolean }) =>
  n.acceptFullTable ? 'RM-TRANSIT-IN-FULL' : 'RM-TRANSIT-IN-DEFAULT';

const numbered = (prefixes: readonly string[], first = 5) =>
  prefixes.map((prefix, i) => ({ seq: first + i * 5, prefix }));

export function renderFrr(
  engine: Engine,
  plan: Plan,
  sw: SwitchPlan,
  secrets: SecretValues,
): { content: string; secrets: string[] } {
  const internal = [plan.networks.loopback, plan.networks.node, plan.networks.provisioning];
  if (sw.role === 'tor') {
    const content = engine.template('frr/tor.conf.hbs')({
      name: sw.name,
      rack: sw.rack,
      asn: sw.asn,
      routerId: sw.loopback,
      local: numbered(sw.bgp.networks),
      fabricIn: numbered(internal, 10), // seq 5 is the default route
      neighbors: sw.bgp.neighbors,
      networks: sw.bgp.networks,
    });
    return { content, secrets: [] };
  }
  const transit = sw.bgp.neighbors.filter((n) => n.kind === 'transit');
  const used = transit.map((n) => n.password!.secret);
  const content = engine.template('frr/border.conf.hbs')({
    name: sw.name,
    asn: sw.asn,
    routerId: sw.loopback,
    loopback: `${sw.loopback}/32`,
    bogons: numbered(BOGONS),
    aggregates: numbered(plan.networks.public),
    internal: numbered(internal),
    transitIn: [...new Set(transit.map(routeMapIn))].sort(),
    upstreamAsns: [...new Set(transit.map((n) => n.asn))]
      .sort((a, b) => a - b)
      .map((asn, i) => ({ seq: 5 + i * 5, asn })),
    fabric: sw.bgp.neighbors.filter((n) => n.kind === 'fabric'),
    transit: transit.map((n) => ({
      ...n,
      routeMapIn: routeMapIn(n),
      password: secrets.get(n.password!.secret),
    })),
  });
  return { content, secrets: used };
}
