// One run at a time per region: a lock file in the state folder naming its owner, pid, host and
// start time. Created atomically (a complete temp file hard-linked into place, which fails if the
// lock exists), so no reader ever sees half a lock. A lock whose process is gone (a run killed
// with SIGKILL) is taken over, and said so; a live one is refused by name.
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { ExitCode, UserError } from '../errors.js';
import type { EventSink } from '../events.js';
import type { StateDir } from '../state/index.js';

export interface LockInfo {
  readonly owner: string;
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  readonly command: string;
}

export interface Lock {
  readonly info: LockInfo;
  release(): void;
}

export class RegionLocked extends UserError {
  constructor(
    readonly holder: LockInfo,
    file: string,
  ) {
    super(
      `region is being applied by ${holder.owner} (pid ${holder.pid} on ${holder.host}, since ${holder.startedAt}: ${holder.command})`,
      `wait for it to finish, or stop it; ${file} is removed when it ends`,
      ExitCode.locked,
    );
    this.name = 'RegionLocked';
  }
}

export function lockPath(state: StateDir): string {
  return join(state.path, 'lock');
}

export function readLock(state: StateDir): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(lockPath(state), 'utf8')) as LockInfo;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // A lock that cannot be read was never completely written: links are atomic, so not by us.
    throw new UserError(`${lockPath(state)} is not a civostack lock`, 'remove it if no civostack runs');
  }
}

/** Whether `pid` is a live process on this host (EPERM: alive, someone else's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface AcquireOptions {
  readonly command: string;
  readonly emit: EventSink;
  readonly pid?: number;
  readonly host?: string;
  readonly owner?: string;
  readonly now?: () => Date;
  readonly alive?: (pid: number) => boolean;
}

export function acquireLock(state: StateDir, o: AcquireOptions): Lock {
  const file = lockPath(state);
  const info: LockInfo = {
    owner: o.owner ?? safeUser(),
    pid: o.pid ?? process.pid,
    host: o.host ?? hostname(),
    startedAt: (o.now ?? (() => new Date()))().toISOString(),
    command: o.command,
  };
  const alive = o.alive ?? processAlive;
  mkdirSync(state.path, { recursive: true, mode: 0o700 });
  const tmp = join(state.path, `.lock.${info.pid}.${Date.now()}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(tmp, file);
        return { info, release: () => releaseIfOurs(state, info) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = readLock(state);
      if (holder === undefined) continue; // released meanwhile: try again
      // Another host's pid cannot be checked from here: only a lock from this host can be stale.
      if (holder.host !== info.host || alive(holder.pid)) throw new RegionLocked(holder, file);
      o.emit({
        kind: 'warning',
        code: 'lock.taken-over',
        message: `taking over the lock of ${holder.owner}'s run (pid ${holder.pid} on ${holder.host}, since ${holder.startedAt}): that process is gone`,
      });
      // Remove it only if it is still that same stale lock (another run may have taken it over).
      const again = readLock(state);
      if (again && sameLock(again, holder)) rmSync(file, { force: true });
    }
    const holder = readLock(state);
    throw holder ? new RegionLocked(holder, file) : new UserError(`could not take ${file}`);
  } finally {
    rmSync(tmp, { force: true });
  }
}

function releaseIfOurs(state: StateDir, info: LockInfo): void {
  const now = readLockQuiet(state);
  if (now && sameLock(now, info)) rmSync(lockPath(state), { force: true });
}

/**
 * One lock is another when every field matches: a pid alone is not unique across hosts (nor over
 * time on one), and two runs on two hosts can start in the same millisecond with the same pid.
 */
function sameLock(a: LockInfo, b: LockInfo): boolean {
  return (
    a.host === b.host &&
    a.pid === b.pid &&
    a.startedAt === b.startedAt &&
    a.owner === b.owner &&
    a.command === b.command
  );
}

function readLockQuiet(state: StateDir): LockInfo | undefined {
  try {
    return readLock(state);
  } catch {
    return undefined;
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}
