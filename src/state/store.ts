// The region's state folder: allocations (so addresses never move), later renders and secrets.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { AllocationTable } from '../plan/index.js';
import { writeFileAtomic } from './atomic.js';

const ALLOCATIONS = 'allocations.json';

export interface StateDir {
  readonly path: string;
}

/** `.civostack/<region>/` beside the manifest, unless overridden. */
export function stateDirFor(manifestPath: string, region: string, override?: string): StateDir {
  return { path: override ? resolve(override) : join(dirname(resolve(manifestPath)), '.civostack', region) };
}

export function readAllocations(state: StateDir): AllocationTable {
  const file = join(state.path, ALLOCATIONS);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new UserError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as { version?: unknown; pools?: unknown };
    if (parsed.version !== 1 || typeof parsed.pools !== 'object' || parsed.pools === null)
      throw new Error('unknown format');
    return parsed.pools as AllocationTable;
  } catch (err) {
    throw new UserError(
      `${file} is not a civostack allocation file (${(err as Error).message})`,
      'restore it from a backup or version control: it is what keeps every address stable',
    );
  }
}

export function writeAllocations(state: StateDir, table: AllocationTable): void {
  mkdirSync(state.path, { recursive: true, mode: 0o700 });
  writeFileAtomic(
    join(state.path, ALLOCATIONS),
    `${JSON.stringify({ version: 1, pools: table }, null, 2)}\n`,
  );
}
