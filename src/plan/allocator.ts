// Stable allocation: what was handed out before keeps its value; new keys get the lowest free one.
// Removed keys keep their value reserved (reported as orphans) until a prune releases them, so a
// node that comes back, or a typo fixed a day later, never takes another's address.

/** Allocations as recorded in state: pool name → key → value (an address, a CIDR or a number). */
export type AllocationTable = Record<string, Record<string, string | number>>;

export interface Orphan {
  readonly pool: string;
  readonly key: string;
  readonly value: string | number;
}

export class AllocationError extends Error {}

/**
 * The recorded table with renamed nodes' entries under their new names: a node's own keys (its
 * addresses, PortChannel), its BMC's (`<node>-bmc`) and the K3s init server. An old key moves only
 * when the new one is not recorded yet, so a `renamedFrom` left in the manifest changes nothing later.
 */
export function renameRecorded(
  prior: AllocationTable,
  renames: ReadonlyMap<string, string>,
): AllocationTable {
  if (renames.size === 0) return prior;
  const moved = (key: string): string | undefined => {
    const direct = renames.get(key);
    if (direct !== undefined) return direct;
    const bmc = key.endsWith('-bmc') ? renames.get(key.slice(0, -'-bmc'.length)) : undefined;
    return bmc === undefined ? undefined : `${bmc}-bmc`;
  };
  const out: AllocationTable = {};
  for (const [pool, entries] of Object.entries(prior)) {
    const next: Record<string, string | number> = {};
    for (const [key, value] of Object.entries(entries)) {
      const to = moved(key);
      if (to !== undefined && !(to in entries)) next[to] = value;
      else next[key] = value;
    }
    out[pool] = next;
  }
  const init = out['kubernetes']?.['initServer'];
  if (typeof init === 'string' && renames.has(init))
    out['kubernetes'] = { ...out['kubernetes'], initServer: renames.get(init)! };
  return out;
}

interface PoolSpec<V extends string | number> {
  readonly name: string;
  /** Number of slots; slot i is value `encode(i)`. */
  readonly size: number;
  readonly encode: (slot: number) => V;
  /** The slot of a recorded value, or undefined when it no longer fits this pool. */
  readonly decode: (value: string | number) => number | undefined;
  /** Slots never handed out (network, gateway, broadcast, pinned infrastructure). */
  readonly reserved?: Iterable<number>;
}

export class Allocations {
  private readonly next: AllocationTable = {};
  private readonly orphans: Orphan[] = [];

  constructor(
    private readonly prior: AllocationTable,
    private readonly prune: boolean,
  ) {}

  /**
   * Allocates one value per key, in key order: recorded values first (so a new key can never
   * take one), pinned slots next, then the lowest free slot.
   */
  allocate<V extends string | number>(
    spec: PoolSpec<V>,
    keys: readonly string[],
    pinned: ReadonlyMap<string, number> = new Map(),
  ): Map<string, V> {
    const recorded = this.prior[spec.name] ?? {};
    const used = new Set<number>(spec.reserved ?? []);
    const slots = new Map<string, number>();
    const wanted = new Set(keys);

    for (const [key, slot] of pinned) {
      if (used.has(slot))
        throw new AllocationError(
          `${spec.name}: ${key} is pinned to ${String(spec.encode(slot))}, which is reserved`,
        );
      used.add(slot);
      slots.set(key, slot);
    }
    for (const key of keys) {
      if (slots.has(key)) continue;
      const value = recorded[key];
      const slot = value === undefined ? undefined : spec.decode(value);
      if (slot !== undefined && slot >= 0 && slot < spec.size && !used.has(slot)) {
        used.add(slot);
        slots.set(key, slot);
      }
    }
    // Keys gone from the manifest keep their slot reserved unless pruning.
    for (const key of this.prune ? [] : sortedKeys(recorded)) {
      if (wanted.has(key)) continue;
      const value = recorded[key]!;
      const slot = spec.decode(value);
      if (slot !== undefined && !used.has(slot)) {
        used.add(slot);
        slots.set(key, slot);
        this.orphans.push({ pool: spec.name, key, value });
      }
    }
    let cursor = 0;
    for (const key of keys) {
      if (slots.has(key)) continue;
      while (cursor < spec.size && used.has(cursor)) cursor++;
      if (cursor >= spec.size) {
        throw new AllocationError(
          `${spec.name}: no free value left for ${key} (${spec.size} slots, all taken)`,
        );
      }
      used.add(cursor);
      slots.set(key, cursor);
    }

    const out = new Map<string, V>();
    const record: Record<string, string | number> = {};
    for (const [key, slot] of slots) {
      const value = spec.encode(slot);
      record[key] = value;
      if (wanted.has(key)) out.set(key, value);
    }
    this.next[spec.name] = record;
    return out;
  }

  /** Records a plain value (not a slot), such as which node initialised the cluster. */
  record(pool: string, key: string, value: string | number): void {
    (this.next[pool] ??= {})[key] = value;
  }

  /** The table to record: every pool touched by this plan, keys sorted, so the file is stable. */
  table(): AllocationTable {
    const sorted: AllocationTable = {};
    for (const pool of Object.keys(this.next).sort()) {
      const entries = this.next[pool]!;
      const out: Record<string, string | number> = {};
      for (const key of sortedKeys(entries)) out[key] = entries[key]!;
      sorted[pool] = out;
    }
    // Pools of racks that are gone entirely are kept too, unless pruning.
    if (!this.prune) {
      for (const pool of Object.keys(this.prior).sort()) {
        if (pool in sorted) continue;
        sorted[pool] = this.prior[pool]!;
        for (const [key, value] of Object.entries(this.prior[pool]!)) this.orphans.push({ pool, key, value });
      }
    }
    return sorted;
  }

  orphaned(): readonly Orphan[] {
    return this.orphans;
  }
}

/**
 * An object's keys in code-unit order, as the recorded table is written. Array.prototype.sort without
 * a comparator compares strings by UTF-16 code units, the same order as `<`, and is several times
 * faster than a comparator on the 10,000-key pools of a large region.
 */
function sortedKeys(entries: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(entries).sort();
}
