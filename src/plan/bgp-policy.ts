// BGP policy: what each switch accepts and announces, per kind of neighbour, as Plan data. The FRR
// render lays it out as prefix lists and route maps; the fabric lab's checks read the same data.
import type { Region } from '../manifest/index.js';
import type { BgpPolicyPlan } from './types.js';

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

/** Longest prefix accepted from transit: a /24 is the smallest block the internet carries. */
export const TRANSIT_MAX_PREFIX_LENGTH = 24;

/** The region's internal ranges: fabric neighbours may announce anything within them. */
function internalRanges(region: Region): string[] {
  return [
    region.networks.loopback.cidr,
    region.networks.node.net.cidr,
    region.networks.provisioning.net.cidr,
  ];
}

/** A ToR: the default route and internal prefixes in, exactly its own networks out. */
export function torPolicy(region: Region, networks: readonly string[]): BgpPolicyPlan {
  return {
    fabricImport: { defaultRoute: true, within: internalRanges(region) },
    fabricExport: { defaultRoute: false, exact: [...networks] },
    transit: undefined,
  };
}

/** A border router: internal prefixes in from the fabric, the default route down; transit filtered. */
export function borderPolicy(region: Region, upstreamAsns: readonly number[]): BgpPolicyPlan {
  const aggregates = region.networks.public.map((n) => n.cidr);
  return {
    fabricImport: { defaultRoute: false, within: internalRanges(region) },
    fabricExport: { defaultRoute: true, exact: [] },
    transit: {
      export: aggregates,
      rejectBogons: [...BOGONS],
      rejectOwn: aggregates,
      maxPrefixLength: TRANSIT_MAX_PREFIX_LENGTH,
      acceptDefault: true,
      upstreamAsns: [...new Set(upstreamAsns)].sort((a, b) => a - b),
    },
  };
}
