// How a rack subnet is laid out. Part of the manifest's contract: the reference documents it, the
// rules size networks with it and the planner allocates by it.

/** Offsets inside every per-rack subnet (node, provisioning, OOB). */
export const RACK_SUBNET = {
  gateway: 1,
  /** ToR SVI addresses on node/provisioning subnets, first and second ToR. */
  torA: 2,
  torB: 3,
  /** Offsets 4–9 are kept for infrastructure pinned by the manifest (bootstrap host, API VIP). */
  firstHost: 10,
} as const;

export function rackHostCapacity(rackPrefix: number): number {
  return Math.max(0, 2 ** (32 - rackPrefix) - RACK_SUBNET.firstHost - 1);
}

/** The smallest rack prefix whose subnet holds `hosts` hosts. */
export function prefixFor(hosts: number): number {
  let prefix = 30;
  while (prefix > 8 && rackHostCapacity(prefix) < hosts) prefix--;
  return prefix;
}

/** Offsets in a rack subnet the planner never hands to a host. */
export function isReservedOffset(offset: number, size: number): boolean {
  return offset <= RACK_SUBNET.torB || offset === size - 1;
}
