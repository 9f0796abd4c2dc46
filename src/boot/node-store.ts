// Node states on disk: nodes.json in the region's state folder, rewritten atomically on every
// change, so a boot server killed mid-install starts again where it was.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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

export class NodeStore {
  private data: StoreFile;
  private readonly file: string;

  constructor(
    state: StateDir,
    nodeNames: readonly string[],
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.file = join(state.path, 'nodes.json');
    this.data = readStore(this.file);
    const now = this.clock().toISOString();
    for (const name of nodeNames) this.data.nodes[name] ??= initialState(now);
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
    const next = applyEvent(this.data.nodes[node] ?? initialState(now), event, now);
    this.data.nodes[node] = next;
    this.save();
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

  private reload(): void {
    const fresh = readStore(this.file);
    this.data = {
      version: 1,
      nodes: { ...this.data.nodes, ...fresh.nodes },
      unknown: { ...this.data.unknown, ...fresh.unknown },
    };
  }

  private save(): void {
    writeFileAtomic(this.file, `${JSON.stringify(this.data, null, 2)}\n`);
  }
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
