// The region lock across hosts and owners: a lock written on another host is never taken over
// (its pid means nothing here), and releasing removes only the lock this run holds. The takeover
// of a dead process's lock on this host and the refusal of a live one are in apply.test.ts.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock, lockPath, readLock, RegionLocked, type LockInfo } from '../../src/apply/lock.js';
import { recorder } from '../../src/events.js';
import type { StateDir } from '../../src/state/index.js';
import { tempDir } from '../helpers/manifest.js';

function state(): StateDir {
  return { path: join(tempDir('civostack-lock-'), 'state') };
}

/** A pid no process has: a child that already exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid;
}

function writeLock(st: StateDir, info: LockInfo): string {
  mkdirSync(st.path, { recursive: true });
  const text = `${JSON.stringify(info, null, 2)}\n`;
  writeFileSync(lockPath(st), text);
  return text;
}

const elsewhere = (pid: number): LockInfo => ({
  owner: 'carol',
  pid,
  host: 'build-07',
  startedAt: '2026-03-01T10:00:00.000Z',
  command: 'region up nyc1.yaml',
});

describe('the region lock across hosts', () => {
  it.each([
    ['a pid that is alive here', () => process.pid],
    ['a pid that is dead here', deadPid],
  ])('never takes over a lock written on another host, with %s', (_, pid) => {
    const st = state();
    const text = writeLock(st, elsewhere(pid()));
    const rec = recorder();
    // Whatever this host would say of the pid: another host's process cannot be checked from here.
    for (const alive of [undefined, () => false]) {
      let refused: unknown;
      try {
        acquireLock(st, {
          command: 'region up mine',
          emit: rec.sink,
          host: 'lab-host',
          ...(alive ? { alive } : {}),
        });
      } catch (err) {
        refused = err;
      }
      expect(refused).toBeInstanceOf(RegionLocked);
      expect((refused as RegionLocked).message).toContain('carol (pid');
      expect((refused as RegionLocked).message).toContain('on build-07');
    }
    expect(readFileSync(lockPath(st), 'utf8')).toBe(text);
    expect(rec.events).toEqual([]);
  });

  it('takes over a stale lock of this host only: the same pid written on another host is refused', () => {
    const pid = deadPid();
    const mine = state();
    writeLock(mine, { ...elsewhere(pid), host: 'lab-host' });
    const lock = acquireLock(mine, { command: 'region up mine', emit: () => undefined, host: 'lab-host' });
    expect(readLock(mine)).toMatchObject({ pid: process.pid, host: 'lab-host', command: 'region up mine' });
    lock.release();
    const theirs = state();
    writeLock(theirs, elsewhere(pid));
    expect(() =>
      acquireLock(theirs, { command: 'region up mine', emit: () => undefined, host: 'lab-host' }),
    ).toThrow(RegionLocked);
  });
});

describe('releasing the region lock', () => {
  it('removes the lock this run holds, once; a second release is harmless', () => {
    const st = state();
    const lock = acquireLock(st, { command: 'region up a', emit: () => undefined });
    lock.release();
    expect(readLock(st)).toBeUndefined();
    lock.release();
    expect(readLock(st)).toBeUndefined();
  });

  it.each([
    ['another host, same pid and start', (mine: LockInfo) => ({ ...mine, host: 'build-07', owner: 'carol' })],
    ['this host, another process', (mine: LockInfo) => ({ ...mine, pid: deadPid(), owner: 'carol' })],
    [
      'this process, a later run',
      (mine: LockInfo) => ({ ...mine, startedAt: '2026-03-01T10:00:05.000Z', command: 'region up b' }),
    ],
  ])('leaves alone a lock that replaced its own: %s', (_, theirs) => {
    const st = state();
    const now = () => new Date('2026-03-01T10:00:00.000Z');
    const lock = acquireLock(st, { command: 'region up a', emit: () => undefined, now });
    // Someone removed ours by hand and another run took the region meanwhile.
    const text = writeLock(st, theirs(lock.info));
    lock.release();
    expect(readFileSync(lockPath(st), 'utf8')).toBe(text);
  });
});
