// Networks: they parse, do not overlap, fit the racks and nodes, and hold the pinned addresses.
import type { Path } from '../diagnostics.js';
import { isReservedOffset, prefixFor, rackHostCapacity } from '../layout.js';
import { contains, ipToInt, isIpv4, makeNetwork, overlaps, parseCidr, type Network } from '../net.js';
import type { Manifest } from '../schema.js';
import type { Rule } from './context.js';

export interface NamedNetwork {
  readonly label: string;
  readonly path: Path;
  readonly net: Network;
}

/** Every network the manifest declares, in manifest order; unparsable ones are left out. */
export function regionNetworks(n: Manifest['networks']): NamedNetwork[] {
  const out: NamedNetwork[] = [];
  const add = (label: string, path: Path, text: string): void => {
    const parsed = parseCidr(text);
    if (parsed.ok) out.push({ label, path, net: parsed.network });
  };
  for (const key of ['oob', 'provisioning', 'node'] as const)
    add(key, ['networks', key, 'cidr'], n[key].cidr);
  for (const key of ['loopback', 'p2p', 'pods', 'services'] as const) add(key, ['networks', key], n[key]);
  n.public.forEach((p, i) => add(`public[${i}]`, ['networks', 'public', i], p));
  return out;
}

export const networksDisjoint: Rule = (ctx) => {
  const nets = regionNetworks(ctx.manifest.networks);
  nets.forEach((b, j) => {
    for (const a of nets.slice(0, j)) {
      if (overlaps(a.net, b.net)) {
        ctx.error(
          b.path,
          'overlapping-networks',
          `${b.label} ${b.net.cidr} overlaps ${a.label} ${a.net.cidr} at ${ctx.at(a.path)}`,
          'every region network needs its own address space',
        );
        break;
      }
    }
  });
};

export const networksFit: Rule = (ctx) => {
  const { manifest: m, facts } = ctx;
  const racks = m.racks.length;
  const perRack = m.racks.map((rack) => ({
    name: rack.name,
    nodes: rack.nodes.length,
    devices: rack.nodes.length + rack.switches.length,
  }));
  const check = (
    key: 'oob' | 'provisioning' | 'node',
    need: (r: (typeof perRack)[number]) => number,
    what: string,
  ): void => {
    const parsed = parseCidr(m.networks[key].cidr);
    if (!parsed.ok) return;
    const { rackPrefix } = m.networks[key];
    if (rackPrefix < parsed.network.prefix) {
      ctx.error(
        ['networks', key, 'rackPrefix'],
        'rack-prefix-too-short',
        `a /${rackPrefix} per rack does not fit inside ${parsed.network.cidr}`,
        `use a rackPrefix of ${parsed.network.prefix} or longer`,
      );
      return;
    }
    const slots = 2 ** (rackPrefix - parsed.network.prefix);
    if (slots < racks) {
      const fits = rackPrefix - parsed.network.prefix + Math.ceil(Math.log2(racks / slots));
      ctx.error(
        ['networks', key, 'cidr'],
        'network-too-small',
        `${parsed.network.cidr} holds ${slots} rack subnets of /${rackPrefix} but the region has ${racks} racks`,
        `use a /${rackPrefix - fits} or larger, or a longer rackPrefix`,
      );
    }
    const capacity = rackHostCapacity(rackPrefix);
    const biggest = perRack.reduce((a, b) => (need(b) > need(a) ? b : a));
    if (need(biggest) > capacity) {
      ctx.error(
        ['networks', key, 'rackPrefix'],
        'rack-subnet-too-small',
        `a /${rackPrefix} holds ${capacity} ${what} per rack but rack ${biggest.name} has ${need(biggest)}`,
        `use rackPrefix ${prefixFor(need(biggest))} or shorter`,
      );
    }
  };
  if (racks === 0) return;
  check('node', (r) => r.nodes, 'nodes');
  check('provisioning', (r) => r.nodes, 'nodes');
  check('oob', (r) => r.devices, 'BMCs and management ports');

  const routed = [...facts.switches.values()].filter((s) => s.sw.role !== 'mgmt').length;
  const lo = parseCidr(m.networks.loopback);
  if (lo.ok && lo.network.size < routed) {
    ctx.error(
      ['networks', 'loopback'],
      'network-too-small',
      `${lo.network.cidr} holds ${lo.network.size} loopbacks but the region has ${routed} ToRs and border routers`,
      `use a /${32 - Math.ceil(Math.log2(routed))} or larger`,
    );
  }
  const links = m.racks.reduce((sum, r) => sum + r.uplinks.length + 1, 0);
  const p2p = parseCidr(m.networks.p2p);
  if (p2p.ok && p2p.network.size / 2 < links) {
    ctx.error(
      ['networks', 'p2p'],
      'network-too-small',
      `${p2p.network.cidr} holds ${p2p.network.size / 2} /31 links but the region needs ${links} (uplinks and MCLAG peer links)`,
      `use a /${31 - Math.ceil(Math.log2(links))} or larger`,
    );
  }
};

/** An address pinned by the manifest must sit on a host offset of its network's rack subnets. */
function checkPinned(
  ctx: Parameters<Rule>[0],
  path: Path,
  address: string,
  key: 'provisioning' | 'node',
  what: string,
): void {
  const parsed = parseCidr(ctx.manifest.networks[key].cidr);
  if (!parsed.ok || !isIpv4(address)) return;
  const ip = ipToInt(address);
  if (!contains(parsed.network, ip)) {
    ctx.error(
      path,
      'address-outside-network',
      `${what} ${address} is outside the ${key} network ${parsed.network.cidr}`,
      `pick an address inside ${parsed.network.cidr}`,
    );
    return;
  }
  const size = 2 ** (32 - ctx.manifest.networks[key].rackPrefix);
  const offset = (ip - parsed.network.base) % size;
  if (isReservedOffset(offset, size)) {
    ctx.error(
      path,
      'reserved-address',
      `${what} ${address} is a network, broadcast, gateway or ToR address of its rack subnet`,
      'use offset 4–9 of the rack subnet (e.g. x.x.x.5), which the planner keeps for infrastructure',
    );
  }
}

export const pinnedAddresses: Rule = (ctx) => {
  const m = ctx.manifest;
  const rackNames = m.racks.map((r) => r.name);
  if (!rackNames.includes(m.bootstrap.rack)) {
    ctx.error(
      ['bootstrap', 'rack'],
      'unknown-rack',
      `no rack is named "${m.bootstrap.rack}"`,
      `one of: ${rackNames.join(', ')}`,
    );
  }
  checkPinned(ctx, ['bootstrap', 'address'], m.bootstrap.address, 'provisioning', 'bootstrap address');
  checkPinned(ctx, ['kubernetes', 'apiVip'], m.kubernetes.apiVip, 'node', 'API VIP');
  m.racks.forEach((rack, r) =>
    rack.switches.forEach((sw, s) =>
      sw.upstreams?.forEach((up, u) => {
        const local = parseInterfaceAddress(up.address);
        if (local && isIpv4(up.peerAddress)) {
          const peer = ipToInt(up.peerAddress);
          const path = ['racks', r, 'switches', s, 'upstreams', u, 'peerAddress'];
          if (!contains(local.link, peer)) {
            ctx.error(
              path,
              'peer-outside-link',
              `peer ${up.peerAddress} is not on the link ${up.address}`,
              `the provider's address is in the same subnet as ${up.address}`,
            );
          } else if (peer === local.address) {
            ctx.error(
              path,
              'peer-is-self',
              `peer ${up.peerAddress} is our own address`,
              "use the provider's side of the link",
            );
          }
        }
      }),
    ),
  );
};

export interface InterfaceAddress {
  readonly address: number;
  /** The subnet the interface sits on. */
  readonly link: Network;
}

/** "a.b.c.d/len" as an interface address and the subnet it sits on (prefix 8–31), or undefined. */
export function parseInterfaceAddress(text: string): InterfaceAddress | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(text);
  if (!m || !isIpv4(m[1]!)) return undefined;
  const address = ipToInt(m[1]!);
  const link = networkAround(address, Number(m[2]));
  return link ? { address, link } : undefined;
}

function networkAround(ip: number, prefix: number): Network | undefined {
  if (prefix < 8 || prefix > 31) return undefined;
  return makeNetwork((ip & (~0 << (32 - prefix))) >>> 0, prefix);
}

/** VLAN 1 is the switches' default VLAN and 4094 carries the MCLAG keepalive. */
export const vlans: Rule = (ctx) => {
  const { provisioning, node } = ctx.manifest.networks;
  for (const [key, vlan] of [
    ['provisioning', provisioning.vlan],
    ['node', node.vlan],
  ] as const) {
    if (vlan === 1 || vlan === 4094) {
      ctx.error(
        ['networks', key, 'vlan'],
        'reserved-vlan',
        `VLAN ${vlan} is reserved (${vlan === 1 ? "the switches' default VLAN" : 'the MCLAG keepalive VLAN'})`,
        'pick a VLAN from 2 to 4093',
      );
    }
  }
  if (provisioning.vlan === node.vlan) {
    ctx.error(
      ['networks', 'node', 'vlan'],
      'duplicate-vlan',
      `node VLAN ${node.vlan} is also the provisioning VLAN at ${ctx.at(['networks', 'provisioning', 'vlan'])}`,
      'the node network needs its own VLAN',
    );
  }
};
