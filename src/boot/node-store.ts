// Node states on disk: nodes.json in the region's state folder, rewritten atomically on every
// change, so a boot server killed mid-install starts again where it was. A change of the time alone
// (a node asking again for the script it already has) is written within TOUCH_DELAY_MS instead, in
// the background: under a thousand clients, an fsync'd rewrite per request was the boot server's limit.
import { appendFileSync, readFileSync, renameSync, rmSync, statSync, type BigIntStats } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic, type StateDir } from '../state/index.js';
import { applyEvent, initialState, type NodeEvent, type NodeState } from './node-state.js';

export type NodeStates = Readonly<Record<string, NodeState>>;

export interface UnknownMac {
  readonly mac: string;
  readonly address?: string;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly count: number;
  readonly via: 'dhcp' | 'http';
}

interface StoreFile {
  version: 1;
  nodes: Record<string, NodeState>;
  unknown: Record<string, UnknownMac>;
}

/** One change of a node's state, as appended to nodes.history.jsonl. */
export interface NodeTransition {
  readonly at: string;
  readonly node: string;
  readonly from: NodeState['state'] | null;
  readonly to: NodeState['state'];
  readonly message?: string;
}

/** The append-only record of every state change, beside nodes.json: the proof that no node was installed twice. */
export function historyFile(state: StateDir): string {
  return join(state.path, 'nodes.history.jsonl');
}

/** Every state change recorded so far, oldest first. */
export function readNodeHistory(state: StateDir): NodeTransition[] {
  let text: string;
  try {
    text = readFileSync(historyFile(state), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as NodeTransition];
      } catch {
        return []; // a line cut short by a crash
      }
    });
}

/** How long a change of `updatedAt` alone may wait before it reaches the disk. */
const TOUCH_DELAY_MS = 1000;

export class NodeStore {
  private data: StoreFile;
  private readonly file: string;
  private readonly history: string;
  /** nodes.json as this store last read or wrote it: unchanged on disk means no re-read. */
  private stamp: BigIntStats | undefined;
  /** Nodes whose time alone changed since the last write: the state on disk, and ours. */
  private readonly touched = new Map<string, { base: NodeState; next: NodeState }>();
  private timer: NodeJS.Timeout | undefined;
  /** Counts writes, so a background write never renames an older snapshot over a newer file. */
  private writes = 0;

  /**
   * `nodes`: the plan's nodes. A renamed node (`renamedFrom`) takes over the state recorded under its
   * old name, so an installed node is not offered the installer again because its name changed.
   */
  constructor(
    state: StateDir,
    nodes: readonly (string | { readonly name: string; readonly renamedFrom?: string })[],
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.file = join(state.path, 'nodes.json');
    this.history = historyFile(state);
    this.data = readStore(this.file);
    const now = this.clock().toISOString();
    let moved = false;
    for (const node of nodes) {
      const name = typeof node === 'string' ? node : node.name;
      const from = typeof node === 'string' ? undefined : node.renamedFrom;
      const old = from === undefined ? undefined : this.data.nodes[from];
      if (from !== undefined && old !== undefined && this.data.nodes[name] === undefined) {
        this.data.nodes[name] = old;
        delete this.data.nodes[from];
        moved = true;
      }
      this.data.nodes[name] ??= initialState(now);
    }
    if (moved) this.save();
  }

  get(node: string): NodeState | undefined {
    return this.data.nodes[node];
  }

  all(): NodeStates {
    return this.data.nodes;
  }

  unknown(): readonly UnknownMac[] {
    return Object.values(this.data.unknown).sort((a, b) => a.mac.localeCompare(b.mac));
  }

  apply(node: string, event: NodeEvent): NodeState {
    // Re-read first: the lab marks nodes ssh-ready from another process than the boot server's.
    this.reload();
    const now = this.clock().toISOString();
    const current = this.data.nodes[node];
    const next = applyEvent(current ?? initialState(now), event, now);
    this.data.nodes[node] = next;
    if (current !== undefined && sameBut(current, next, 'updatedAt')) {
      this.touched.set(node, { base: this.touched.get(node)?.base ?? current, next });
      this.scheduleFlush();
    } else {
      this.save();
      if (current?.state !== next.state) this.record(node, current?.state ?? null, next);
    }
    return next;
  }

  sawUnknown(mac: string, via: UnknownMac['via'], address?: string): void {
    this.reload();
    const now = this.clock().toISOString();
    const prev = this.data.unknown[mac];
    this.data.unknown[mac] = {
      mac,
      ...(address ? { address } : prev?.address ? { address: prev.address } : {}),
      firstSeen: prev?.firstSeen ?? now,
      lastSeen: now,
      count: (prev?.count ?? 0) + 1,
      via,
    };
    this.save();
  }

  /** Appends one transition; O_APPEND writes of one short line are not interleaved between processes. */
  private record(node: string, from: NodeState['state'] | null, next: NodeState): void {
    const t: NodeTransition = {
      at: next.updatedAt,
      node,
      from,
      to: next.state,
      ...(next.message !== undefined ? { message: next.message } : {}),
    };
    appendFileSync(this.history, `${JSON.stringify(t)}\n`);
  }

  private reload(): void {
    const stat = statStamp(this.file);
    if (stat && this.stamp && sameFile(stat, this.stamp)) return;
    const fresh = readStore(this.file);
    this.stamp = stat;
    this.data = {
      version: 1,
      nodes: { ...this.data.nodes, ...fresh.nodes },
      unknown: { ...this.data.unknown, ...fresh.unknown },
    };
    // Our newer times stand, unless another process changed the node meanwhile: then its state wins.
    for (const [node, t] of this.touched) {
      const onDisk = fresh.nodes[node];
      if (onDisk === undefined || sameBut(onDisk, t.base)) this.data.nodes[node] = t.next;
      else this.touched.delete(node);
    }
  }

  private save(): void {
    this.writes++;
    this.touched.clear();
    writeFileAtomic(this.file, `${JSON.stringify(this.data, null, 2)}\n`);
    this.stamp = statStamp(this.file);
  }

  /** Writes the pending time-only changes, fsync'd off the event loop, unless a write overtook it. */
  private async flushTouched(): Promise<void> {
    try {
      this.reload();
    } catch {
      return; // a damaged nodes.json: the next request reports it; times alone can wait
    }
    if (this.touched.size === 0) return;
    const generation = ++this.writes;
    const written = new Map(this.touched);
    const content = `${JSON.stringify(this.data, null, 2)}\n`;
    const tmp = join(dirname(this.file), `.${basename(this.file)}.${process.pid}.touch${generation}.tmp`);
    try {
      const fh = await open(tmp, 'w', 0o644);
      try {
        await fh.writeFile(content);
        await fh.sync();
      } finally {
        await fh.close();
      }
      const now = statStamp(this.file);
      // Nothing written since the snapshot, by us or by another process: it is still the newest.
      if (this.writes === generation && (!now || (this.stamp && sameFile(now, this.stamp)))) {
        renameSync(tmp, this.file);
        this.stamp = statStamp(this.file);
        for (const [node, t] of written) if (this.touched.get(node) === t) this.touched.delete(node);
      } else {
        rmSync(tmp, { force: true });
      }
    } catch {
      // Only times were pending: the next write carries them.
      rmSync(tmp, { force: true });
    }
    if (this.touched.size > 0) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flushTouched();
    }, TOUCH_DELAY_MS);
  }
}

function statStamp(file: string): BigIntStats | undefined {
  return statSync(file, { bigint: true, throwIfNoEntry: false });
}

function sameFile(a: BigIntStats, b: BigIntStats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeNs === b.mtimeNs;
}

/** Equal states, ignoring `except`. */
function sameBut(a: NodeState, b: NodeState, except?: keyof NodeState): boolean {
  const canon = (s: NodeState) =>
    JSON.stringify(
      Object.keys(s)
        .filter((k) => k !== except)
        .sort()
        .map((k) => [k, s[k as keyof NodeState]]),
    );
  return canon(a) === canon(b);
}

/** Reads nodes.json without creating it (for `region status` and `pxe unknown`). */
export function readNodeStates(state: StateDir): { nodes: NodeStates; unknown: readonly UnknownMac[] } {
  const data = readStore(join(state.path, 'nodes.json'));
  return {
    nodes: data.nodes,
    unknown: Object.values(data.unknown).sort((a, b) => a.mac.localeCompare(b.mac)),
  };
}

function readStore(file: string): StoreFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, nodes: {}, unknown: {} };
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<StoreFile>;
    if (parsed.version !== 1) throw new Error('unknown version');
    return { version: 1, nodes: parsed.nodes ?? {}, unknown: parsed.unknown ?? {} };
  } catch (err) {
    throw new UserError(
      `${file} is damaged (${(err as Error).message})`,
      'move it aside: node states start again from pending',
    );
  }
}
