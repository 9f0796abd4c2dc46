// IPv4 values: parsing CIDRs and addresses, and the arithmetic the planner needs, on ipaddr.js.
import ipaddr from 'ipaddr.js';

declare const cidrBrand: unique symbol;
/** A canonical IPv4 network "a.b.c.d/len" whose address is the network address. */
export type Cidr = string & { readonly [cidrBrand]: true };

export interface Network {
  readonly cidr: Cidr;
  /** First address as an unsigned 32-bit integer. */
  readonly base: number;
  readonly prefix: number;
  readonly size: number;
}

export function ipToInt(address: string): number {
  const octets = ipaddr.IPv4.parse(address).octets;
  return ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
}

export function intToIp(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

export function isIpv4(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text);
}

export type CidrParse = { ok: true; network: Network } | { ok: false; reason: string; suggestion?: string };

/** Parses "a.b.c.d/len"; host bits set is an error with the network address as the suggestion. */
export function parseCidr(text: string): CidrParse {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(text.trim());
  if (!m || !isIpv4(m[1]!) || Number(m[2]) > 32) {
    return { ok: false, reason: `"${text}" is not an IPv4 CIDR` };
  }
  const prefix = Number(m[2]);
  const address = ipToInt(m[1]!);
  const base = prefix === 0 ? 0 : (address & (~0 << (32 - prefix))) >>> 0;
  if (base !== address) {
    const fixed = `${intToIp(base)}/${prefix}`;
    return { ok: false, reason: `"${text}" has host bits set`, suggestion: fixed };
  }
  return { ok: true, network: makeNetwork(base, prefix) };
}

export function makeNetwork(base: number, prefix: number): Network {
  return { cidr: `${intToIp(base)}/${prefix}` as Cidr, base, prefix, size: 2 ** (32 - prefix) };
}

export function networkOf(cidr: Cidr): Network {
  const parsed = parseCidr(cidr);
  if (!parsed.ok) throw new Error(`internal: ${cidr} is not canonical`);
  return parsed.network;
}

export function contains(outer: Network, address: number): boolean {
  return address >= outer.base && address < outer.base + outer.size;
}

export function overlaps(a: Network, b: Network): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}

export function within(inner: Network, outer: Network): boolean {
  return inner.base >= outer.base && inner.base + inner.size <= outer.base + outer.size;
}

/** "a.b.c.d/len" for an address inside a network, as interface configs want it. */
export function withPrefix(address: number, network: Network): string {
  return `${intToIp(address)}/${network.prefix}`;
}
