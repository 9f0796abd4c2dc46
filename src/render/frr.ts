// FRR configuration for ToRs and border routers: the view each template reads, from the plan. The
// policy (what is accepted and announced) is the plan's; this only numbers it into prefix lists.
import type { Plan, SwitchPlan } from '../plan/index.js';
import type { Engine } from './engine.js';
import type { SecretValues } from './secrets.js';
import { RenderError } from './render-error.js';

const routeMapIn = (n: { acceptFullTable?: boolean }) =>
  n.acceptFullTable ? 'RM-TRANSIT-IN-FULL' : 'RM-TRANSIT-IN-DEFAULT';

const numbered = (prefixes: readonly string[], first = 5) =>
  prefixes.map((prefix, i) => ({ seq: first + i * 5, prefix }));

export function renderFrr(
  engine: Engine,
  _plan: Plan,
  sw: SwitchPlan,
  secrets: SecretValues,
): { content: string; secrets: string[] } {
  const policy = sw.bgp.policy;
  if (policy === undefined)
    throw new RenderError(`${sw.name}: a ${sw.role} switch has no BGP policy to render`);
  if (sw.role === 'tor') {
    const content = engine.template('frr/tor.conf.hbs')({
      name: sw.name,
      rack: sw.rack,
      asn: sw.asn,
      routerId: sw.loopback,
      local: numbered(policy.fabricExport.exact),
      defaultIn: policy.fabricImport.defaultRoute,
      fabricIn: numbered(policy.fabricImport.within, 10), // seq 5 is the default route
      neighbors: sw.bgp.neighbors,
      networks: sw.bgp.networks,
    });
    return { content, secrets: [] };
  }
  const t = policy.transit;
  if (t === undefined) throw new RenderError(`${sw.name}: a border router has no transit policy to render`);
  const transit = sw.bgp.neighbors.filter((n) => n.kind === 'transit');
  const used = transit.map((n) => n.password!.secret);
  const content = engine.template('frr/border.conf.hbs')({
    name: sw.name,
    asn: sw.asn,
    routerId: sw.loopback,
    loopback: `${sw.loopback}/32`,
    bogons: numbered(t.rejectBogons),
    aggregates: numbered(t.export),
    own: numbered(t.rejectOwn),
    tooSpecific: t.maxPrefixLength + 1,
    internal: numbered(policy.fabricImport.within),
    transitIn: [...new Set(transit.map(routeMapIn))].sort(),
    upstreamAsns: t.upstreamAsns.map((asn, i) => ({ seq: 5 + i * 5, asn })),
    fabric: sw.bgp.neighbors.filter((n) => n.kind === 'fabric'),
    transit: transit.map((n) => ({
      ...n,
      routeMapIn: routeMapIn(n),
      password: secrets.get(n.password!.secret),
    })),
  });
  return { content, secrets: used };
}
