// Addresses: nothing the manifest pins (bootstrap host, API VIP, transit links) is pinned twice, and
// no transit link is numbered inside a region network, where the planner or Kubernetes hands
// addresses out. The planner's own pools are predicted here from the manifest alone.
import type { Path } from '../diagnostics.js';
import { contains, intToIp, ipToInt, isIpv4, overlaps, parseCidr } from '../net.js';
import type { Manifest } from '../schema.js';
import type { Rule, RuleContext } from './context.js';
import {
  parseInterfaceAddress,
  regionNetworks,
  type InterfaceAddress,
  type NamedNetwork,
} from './networks.js';

/** One address, who has it (as a message names it) and where the manifest says so. */
export interface AddressClaim {
  readonly address: number;
  readonly owner: string;
  readonly path: Path;
}

export interface FabricAddresses {
  readonly p2p: readonly AddressClaim[];
  readonly loopback: readonly AddressClaim[];
}

/**
 * What a new plan hands out of the p2p and loopback pools, in the planner's key order
 * (src/plan/plan.ts): per rack its MCLAG peer link, then its uplinks in manifest order, one /31
 * each from the bottom of p2p (first ToR / border router on the even address); loopbacks for ToRs
 * and border routers in manifest order, from the pool's second address. Recorded allocations may
 * place them elsewhere later, but never outside their pool.
 */
export function plannedFabricAddresses(m: Manifest): FabricAddresses {
  const p2p: AddressClaim[] = [];
  const loopback: AddressClaim[] = [];
  const p2pNet = parseCidr(m.networks.p2p);
  const loNet = parseCidr(m.networks.loopback);
  let link = 0;
  const give = (owners: readonly [string, Path, string, Path]): void => {
    if (p2pNet.ok && link < Math.floor(p2pNet.network.size / 2)) {
      const base = p2pNet.network.base + link * 2;
      p2p.push({ address: base, owner: owners[0], path: owners[1] });
      p2p.push({ address: base + 1, owner: owners[2], path: owners[3] });
    }
    link++;
  };
  let slot = loNet.ok && loNet.network.size > 1 ? 1 : 0;
  m.racks.forEach((rack, r) => {
    const tors = rack.switches.flatMap((sw, s) => (sw.role === 'tor' ? [{ sw, s }] : []));
    const torPath = (i: number): Path =>
      tors[i] ? ['racks', r, 'switches', tors[i].s, 'name'] : ['racks', r, 'name'];
    const keepalive = (i: number): string =>
      tors[i]
        ? `${tors[i].sw.name}'s MCLAG keepalive address`
        : `the MCLAG keepalive address of rack ${rack.name}`;
    give([keepalive(0), torPath(0), keepalive(1), torPath(1)]);
    rack.uplinks.forEach((u, i) => {
      const path: Path = ['racks', r, 'uplinks', i];
      give([
        `${u.border}'s address on the uplink from ${u.switch} ${u.port}`,
        path,
        `${u.switch}'s address on its uplink ${u.port} to ${u.border}`,
        path,
      ]);
    });
    rack.switches.forEach((sw, s) => {
      if (sw.role === 'mgmt') return;
      if (loNet.ok && slot < loNet.network.size) {
        loopback.push({
          address: loNet.network.base + slot,
          owner: `${sw.name}'s loopback`,
          path: ['racks', r, 'switches', s, 'name'],
        });
      }
      slot++;
    });
  });
  return { p2p, loopback };
}

const DUPLICATE_HINT = 'an address belongs to one interface: use the addresses assigned to this link';
const TRANSIT_HINT =
  'number a transit link with the addresses the provider assigned, outside every region network';

export const addresses: Rule = (ctx) => {
  const m = ctx.manifest;
  const seen = new Map<number, AddressClaim>();
  /** Records a pinned address; undefined when it repeats an earlier one (reported here). */
  const pin = (address: number, owner: string, path: Path, self?: AddressClaim): AddressClaim | undefined => {
    const first = seen.get(address);
    const claim = { address, owner, path };
    if (first === undefined) seen.set(address, claim);
    // A peer on our own side of the link is peer-is-self, reported by pinnedAddresses.
    else if (first !== self) {
      ctx.error(
        path,
        'duplicate-address',
        `${intToIp(address)} is already ${first.owner} at ${ctx.at(first.path)}`,
        DUPLICATE_HINT,
      );
      return undefined;
    }
    return claim;
  };
  const host = (text: string): number | undefined => (isIpv4(text) ? ipToInt(text) : undefined);
  const bootstrap = host(m.bootstrap.address);
  if (bootstrap !== undefined) pin(bootstrap, 'the bootstrap address', ['bootstrap', 'address']);
  const vip = host(m.kubernetes.apiVip);
  if (vip !== undefined) pin(vip, 'the API VIP', ['kubernetes', 'apiVip']);

  const networks = regionNetworks(m.networks).filter((n) => n.path[1] !== 'public');
  const planned = plannedFabricAddresses(m);
  m.racks.forEach((rack, r) =>
    rack.switches.forEach((sw, s) =>
      sw.upstreams?.forEach((up, u) => {
        const path: Path = ['racks', r, 'switches', s, 'upstreams', u];
        // A malformed address is invalid-interface-address, reported by asns.
        const local = parseInterfaceAddress(up.address);
        if (local === undefined) return;
        const own = pin(local.address, `${sw.name}'s ${up.name} address`, [...path, 'address']);
        const peer = host(up.peerAddress);
        if (peer !== undefined)
          pin(peer, `the peer address of ${sw.name}'s ${up.name}`, [...path, 'peerAddress'], own);
        if (own !== undefined) transitInside(ctx, up.name, local, peer, path, networks, planned);
      }),
    ),
  );
};

const PURPOSE: Record<string, string> = {
  oob: 'which the planner divides into rack subnets',
  provisioning: 'which the planner divides into rack subnets',
  node: 'which the planner divides into rack subnets',
  loopback: 'from which the planner hands out switch loopbacks',
  p2p: 'from which the planner hands out /31 fabric links',
  pods: 'from which Kubernetes addresses pods',
  services: 'from which Kubernetes addresses services',
};

/**
 * A transit link inside a region network: named by the planned address it takes, when there is
 * one (our address first, then the peer's, then any other on the link). Public prefixes are left
 * out: nothing is allocated from them, and numbering a transit link from one's own space is legal.
 */
function transitInside(
  ctx: RuleContext,
  name: string,
  local: InterfaceAddress,
  peer: number | undefined,
  path: Path,
  networks: readonly NamedNetwork[],
  planned: FabricAddresses,
): void {
  const inside = networks.find((n) => overlaps(n.net, local.link));
  if (inside === undefined) return;
  const pool = inside.label === 'p2p' ? planned.p2p : inside.label === 'loopback' ? planned.loopback : [];
  const taken =
    pool.find((c) => c.address === local.address) ??
    pool.find((c) => c.address === peer) ??
    pool.find((c) => contains(local.link, c.address));
  const network = `the ${inside.label} network ${inside.net.cidr} at ${ctx.at(inside.path)}`;
  let message: string;
  if (taken === undefined) {
    message = `${name}'s link ${local.link.cidr} lies inside ${network}, ${PURPOSE[inside.label] ?? ''}`;
  } else {
    const what = `${taken.owner} at ${ctx.at(taken.path)}, from ${network}`;
    message =
      taken.address === local.address
        ? `${intToIp(local.address)} is already ${what}`
        : `${name}'s link ${local.link.cidr} takes ${intToIp(taken.address)}, which is already ${what}`;
  }
  ctx.error([...path, 'address'], 'transit-in-region-network', message, TRANSIT_HINT);
}
