// The phase engine with fake phases: what runs, what is skipped, clean-up, cancellation, resume,
// the lock, the journal, and a dry run of region up that writes nothing.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PowerDriver, PowerDriverFactory, PowerStatus } from '../../src/bmc/driver.js';
import { acquireLock, lockPath, readLock, RegionLocked } from '../../src/apply/lock.js';
import { readJournal } from '../../src/apply/journal.js';
import { eachAction, outputKey, type Phase, type RunContext } from '../../src/apply/phase.js';
import { rackPhases, regionUp } from '../../src/apply/region-up.js';
import { labPhases } from '../../src/lab/environment.js';
import { runPhases, selectPhases } from '../../src/apply/runner.js';
import type { BootServiceProvider } from '../../src/apply/context.js';
import { NodeStore, type NodeEvent } from '../../src/boot/index.js';
import { recorder, type CivoEvent } from '../../src/events.js';
import { loadRegion } from '../../src/manifest/index.js';
import { commit, prepare } from '../../src/pipeline.js';
import type { NodeHosts } from '../../src/kube/hosts.js';
import type { Limiter } from '../../src/remote/index.js';
import type { StateDir } from '../../src/state/index.js';
import { hashTree } from '../helpers/hash.js';
import { LAB, tempDir } from '../helpers/manifest.js';

/** A fake world the phases act on: what each phase did, so a re-run can see it. */
interface World {
  done: Set<string>;
  acted: string[];
  cleaned: string[];
  failOnce: Set<string>;
}

function fakePhase(id: string, world: World, actions = ['a1']): Phase<RunContext, { done: boolean }> {
  return {
    id,
    title: `Phase ${id}`,
    observe: () => Promise.resolve({ done: world.done.has(id) }),
    shouldRun: (f) => !f.done,
    skipReason: () => `${id} is done`,
    actions: () => actions.map((a) => ({ target: a, text: `do ${a}` })),
    async run(ctx, list) {
      await eachAction(ctx, id, list, (a) => {
        if (world.failOnce.delete(`${id}/${a.target}`)) return Promise.reject(new Error(`${a.target} broke`));
        world.acted.push(`${id}/${a.target}`);
        return Promise.resolve();
      });
      world.done.add(id);
    },
    cleanUp: () => {
      world.cleaned.push(id);
      return Promise.resolve();
    },
  };
}

function world(): World {
  return { done: new Set(), acted: [], cleaned: [], failOnce: new Set() };
}

function state(): StateDir {
  return { path: join(tempDir('civostack-apply-'), 'state') };
}

/** A clock that moves 5 ms at every reading, so durations are exact. */
function steppingClock(): () => Date {
  let t = Date.parse('2026-01-01T00:00:00Z');
  return () => new Date((t += 5));
}

function base(signal = new AbortController().signal) {
  const rec = recorder();
  return { rec, ctx: { signal, emit: rec.sink } };
}

const children: number[] = [];
afterAll(() => {
  for (const pid of children) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

describe('the phase runner', () => {
  it("hands a phase's output to later phases: what its run returned, or its observedOutput when skipped or dry", async () => {
    const KEY = outputKey<string[]>('maker');
    const seen: (string[] | undefined)[] = [];
    const maker = (done: boolean): Phase<RunContext, { done: boolean }, string[]> => ({
      id: 'maker',
      title: 'makes',
      observe: () => Promise.resolve({ done }),
      shouldRun: (f) => !f.done,
      actions: () => [{ target: 'x', text: 'make' }],
      run: () => Promise.resolve(['made by run']),
      observedOutput: (f) => [f.done ? 'observed: done' : 'observed: to do'],
    });
    const reader: Phase<RunContext, undefined> = {
      id: 'reader',
      title: 'reads',
      observe(ctx) {
        seen.push(ctx.outputOf(KEY));
        return Promise.resolve(undefined);
      },
      shouldRun: () => false,
      actions: () => [],
      run: () => Promise.resolve(),
    };
    const go = (done: boolean, extra: { dryRun?: boolean; selection?: { only: string } } = {}) =>
      runPhases({ phases: [maker(done), reader], ctx: base().ctx, state: state(), command: 't', ...extra });
    expect((await go(false)).outcome).toBe('done');
    expect((await go(true)).outcome).toBe('done');
    expect((await go(false, { dryRun: true })).outcome).toBe('dry-run');
    // The maker not selected: nothing handed on.
    expect((await go(false, { selection: { only: 'reader' } })).outcome).toBe('done');
    expect(seen).toEqual([['made by run'], ['observed: done'], ['observed: to do'], undefined]);
    // The plan of work a confirm is shown observes as a dry run does; the run itself starts afresh.
    seen.length = 0;
    const r = await runPhases({
      phases: [maker(false), reader],
      ctx: base().ctx,
      state: state(),
      command: 't',
      confirm: () => Promise.resolve(true),
    });
    expect(r.outcome).toBe('done');
    expect(seen).toEqual([['observed: to do'], ['made by run']]);
  });

  it('runs each phase that has work and skips one whose observation says it is done', async () => {
    const w = world();
    w.done.add('b');
    const { rec, ctx } = base();
    const r = await runPhases({
      phases: [fakePhase('a', w), fakePhase('b', w), fakePhase('c', w)],
      ctx,
      state: state(),
      command: 'test',
      now: steppingClock(),
    });
    expect(r.outcome).toBe('done');
    expect(w.acted).toEqual(['a/a1', 'c/a1']);
    expect(r.phases.map((p) => [p.id, p.outcome])).toEqual([
      ['a', 'done'],
      ['b', 'skipped'],
      ['c', 'done'],
    ]);
    const ends = rec.events.filter((e) => e.kind === 'phase-end');
    expect(ends.map((e) => e.kind === 'phase-end' && [e.phase, e.outcome, e.durationMs > 0])).toEqual([
      ['a', 'done', true],
      ['b', 'skipped', true],
      ['c', 'done', true],
    ]);
    expect(ends[1]).toMatchObject({ message: 'b is done' });
    expect(rec.events.filter((e) => e.kind === 'action').map((e) => e.kind === 'action' && e.code)).toEqual([
      'action.start',
      'action.done',
      'action.start',
      'action.done',
    ]);
  });

  it('cleans up every phase that ran, last first, when one fails, and runs nothing after it', async () => {
    const w = world();
    w.failOnce.add('b/a1');
    const { ctx } = base();
    const st = state();
    const r = await runPhases({
      phases: [fakePhase('a', w), fakePhase('b', w), fakePhase('c', w)],
      ctx,
      state: st,
      command: 'test',
    });
    expect(r.outcome).toBe('failed');
    expect((r.error as Error).message).toBe('a1 broke');
    expect(w.cleaned).toEqual(['b', 'a']);
    expect(w.acted).toEqual(['a/a1']);
    const j = readJournal(st)!;
    expect(j.outcome).toBe('failed');
    expect(j.phases.map((p) => [p.phase, p.outcome])).toEqual([
      ['a', 'done'],
      ['b', 'failed'],
    ]);
    expect(existsSync(lockPath(st))).toBe(false);
  });

  it('resumes: a second run does only what the first left undone', async () => {
    const w = world();
    w.failOnce.add('b/a2');
    const st = state();
    const phases = [fakePhase('a', w), fakePhase('b', w, ['a1', 'a2']), fakePhase('c', w)];
    expect((await runPhases({ phases, ctx: base().ctx, state: st, command: 'test' })).outcome).toBe('failed');
    const again = await runPhases({ phases, ctx: base().ctx, state: st, command: 'test' });
    expect(again.outcome).toBe('done');
    expect(again.phases.map((p) => p.outcome)).toEqual(['skipped', 'done', 'done']);
    expect(w.acted.filter((a) => a.startsWith('a/'))).toEqual(['a/a1']);
  });

  it('stops between two actions when cancelled: the action under way ends, no other starts', async () => {
    const w = world();
    const controller = new AbortController();
    const { rec, ctx } = base(controller.signal);
    const phase: Phase<RunContext, null> = {
      id: 'slow',
      title: 'Slow',
      observe: () => Promise.resolve(null),
      shouldRun: () => true,
      actions: () => ['n1', 'n2', 'n3'].map((t) => ({ target: t, text: 'x' })),
      run: (c, list) =>
        eachAction(c, 'slow', list, async (a) => {
          if (a.target === 'n1') controller.abort();
          await new Promise((r) => setTimeout(r, 20));
          w.acted.push(a.target);
        }),
      cleanUp: () => Promise.resolve(void w.cleaned.push('slow')),
    };
    const deferred: string[] = [];
    const teardown: Phase<RunContext, null> = {
      id: 'service',
      title: 'Service',
      observe: () => Promise.resolve(null),
      shouldRun: () => true,
      actions: () => [],
      run: (c) => Promise.resolve(c.defer(() => Promise.resolve(void deferred.push('stopped')))),
    };
    const st = state();
    const r = await runPhases({
      phases: [teardown, phase, fakePhase('after', w)],
      ctx,
      state: st,
      command: 't',
    });
    expect(r.outcome).toBe('cancelled');
    expect(w.acted).toEqual(['n1']);
    expect(w.cleaned).toEqual(['slow']);
    expect(deferred).toEqual(['stopped']);
    expect(rec.events).toContainEqual(
      expect.objectContaining({ kind: 'phase-end', phase: 'slow', outcome: 'cancelled' }),
    );
    expect(readJournal(st)?.outcome).toBe('cancelled');
  });

  it('picks phases with --only, --from and --until, and names the known ones for an unknown id', () => {
    const ids = ['a', 'b', 'c', 'd'].map((id) => ({ id }));
    const pick = (s: Parameters<typeof selectPhases>[1]) => selectPhases(ids, s).map((p) => p.id);
    expect(pick({ only: 'b' })).toEqual(['b']);
    expect(pick({ from: 'b' })).toEqual(['b', 'c', 'd']);
    expect(pick({ until: 'b' })).toEqual(['a', 'b']);
    expect(pick({ from: 'b', until: 'c' })).toEqual(['b', 'c']);
    expect(pick({ from: 'c', until: 'c' })).toEqual(['c']);
    expect(() => pick({ only: 'x' })).toThrow(/--only x: no such phase/);
    expect(() => pick({ from: 'x' })).toThrow(
      expect.objectContaining({ hint: 'phases: a, b, c, d', exitCode: 64 }),
    );
    expect(() => pick({ until: 'x' })).toThrow(/--until x: no such phase/);
    expect(() => pick({ from: 'c', until: 'b' })).toThrow(
      expect.objectContaining({ message: '--until b comes before --from c', exitCode: 64 }),
    );
    expect(() => pick({ only: 'b', until: 'c' })).toThrow(
      expect.objectContaining({ message: '--only cannot be used with --until', exitCode: 64 }),
    );
  });

  it('asks before acting and does nothing when the answer is no', async () => {
    const w = world();
    const st = state();
    let asked: string[] = [];
    const r = await runPhases({
      phases: [fakePhase('a', w), fakePhase('b', w)],
      ctx: base().ctx,
      state: st,
      command: 't',
      confirm: (work) => {
        asked = work.flatMap((p) => p.actions.map((a) => `${p.id}: ${a.text}`));
        return Promise.resolve(false);
      },
    });
    expect(r.outcome).toBe('declined');
    expect(asked).toEqual(['a: do a1', 'b: do a1']);
    expect(w.acted).toEqual([]);
    expect(readJournal(st)).toBeUndefined();
  });
});

describe('the region lock', () => {
  it('takes over a lock whose process is gone, saying so', () => {
    const st = state();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    mkdirSync(st.path, { recursive: true });
    writeFileSync(
      lockPath(st),
      JSON.stringify({
        owner: 'alice',
        pid: dead,
        host: 'lab-host',
        startedAt: '2026-01-01T00:00:00.000Z',
        command: 'region up x',
      }),
    );
    const rec = recorder();
    const lock = acquireLock(st, { command: 'region up y', emit: rec.sink, host: 'lab-host' });
    expect(readLock(st)).toMatchObject({ pid: process.pid, command: 'region up y' });
    expect(rec.events).toEqual([
      expect.objectContaining({
        code: 'lock.taken-over',
        message: expect.stringContaining(`alice's run (pid ${dead}`),
      }),
    ]);
    lock.release();
    expect(existsSync(lockPath(st))).toBe(false);
  });

  it('refuses a lock held by a live process, naming its owner, and leaves it in place', async () => {
    const st = state();
    // A real process holding the lock: a child that takes it and waits.
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    children.push(child.pid!);
    acquireLock(st, { command: 'region up held', emit: () => undefined, pid: child.pid!, owner: 'bob' });
    const rec = recorder();
    let refused: unknown;
    try {
      acquireLock(st, { command: 'region up mine', emit: rec.sink, owner: 'me' });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(RegionLocked);
    expect((refused as RegionLocked).message).toMatch(/being applied by bob \(pid \d+ on .*region up held\)/);
    expect((refused as RegionLocked).exitCode).toBe(75);
    expect(readLock(st)).toMatchObject({ pid: child.pid, owner: 'bob' });
    // The runner refuses too, and writes no journal.
    await expect(
      runPhases({ phases: [fakePhase('a', world())], ctx: base().ctx, state: st, command: 't' }),
    ).rejects.toBeInstanceOf(RegionLocked);
    expect(readJournal(st)).toBeUndefined();
    child.kill('SIGKILL');
  });
});

/** Fake BMCs: every node off, recording what was asked. */
function fakePower(calls: string[], opts: { manual?: string; broken?: string } = {}): PowerDriverFactory {
  return (node) => {
    if (node === opts.manual) return undefined;
    let power: PowerStatus['power'] = 'off';
    const driver: PowerDriver = {
      protocol: 'redfish',
      status: () => Promise.resolve({ power }),
      on: () => {
        if (node === opts.broken) return Promise.reject(new Error('BMC answered 500'));
        calls.push(`${node} on`);
        power = 'on';
        return Promise.resolve();
      },
      off: () => Promise.resolve(),
      cycle: () => Promise.resolve(void calls.push(`${node} cycle`)),
      bootNext: (d) => Promise.resolve(void calls.push(`${node} boot-next ${d}`)),
      close: () => Promise.resolve(),
    };
    return driver;
  };
}

/** A fake boot service that records being started into `calls`. */
function fakeBoot(calls: string[] = []): BootServiceProvider {
  return {
    describe: () => 'fake boot service',
    running: () => Promise.resolve(false),
    start: () => {
      calls.push('boot service started');
      return Promise.resolve({ ensureRunning: () => Promise.resolve(), stop: () => Promise.resolve() });
    },
  };
}
const noBoot = fakeBoot();

/** Fake nodes that record every command run and file sent into `calls`. */
function fakeHosts(calls: string[]): (limiter: Limiter) => NodeHosts {
  return (limiter) => ({
    limiter,
    get: (node) => ({
      name: node.name,
      exec: (argv: readonly string[]) => {
        calls.push(`${node.name}: ${argv.join(' ')}`);
        return Promise.resolve({ code: 0, stdout: '', stderr: '' });
      },
      upload: (path: string) => {
        calls.push(`${node.name}: upload ${path}`);
        return Promise.resolve({ path, sha256: '', bytes: 0, status: 'written' as const });
      },
      close: () => Promise.resolve(),
    }),
    close: () => Promise.resolve(),
  });
}

function labPrepared(st: StateDir) {
  const loaded = loadRegion(LAB);
  if (!loaded.ok) throw new Error('lab.yaml does not load');
  return prepare({ region: loaded.region, manifestDir: join(LAB, '..'), state: st });
}

/** Something built (into a cache, outside the state folder): recorded into `calls`, then refused. */
function built(calls: string[], what: string): () => Promise<never> {
  return () => {
    calls.push(what);
    return Promise.reject(new Error(what));
  };
}

describe('region up --dry-run', () => {
  it('lists every phase’s actions per host and device and does nothing, on a fresh or an existing state, rack or lab', async () => {
    for (const [fresh, lab] of [
      [true, false],
      [false, false],
      [true, true],
      [false, true],
    ] as const) {
      const st = state();
      if (!fresh) commit(labPrepared(st));
      const cacheDir = tempDir('civostack-cache-');
      const before = [hashTree(st.path), hashTree(cacheDir)];
      // Every side effect a phase could have: a BMC asked to act, the boot service started, a
      // command or file sent to a node, the Kubernetes artifacts or the operator image built.
      const calls: string[] = [];
      const rec = recorder();
      const r = await regionUp({
        manifest: LAB,
        prepared: labPrepared(st),
        environment: {
          phases: lab ? labPhases({ cacheDir, accel: 'tcg', manifestDir: join(LAB, '..') }) : rackPhases(),
          power: fakePower(calls),
          boot: fakeBoot(calls),
          kubeArtifacts: built(calls, 'kube artifacts built'),
          operatorImage: built(calls, 'operator image built'),
        },
        hosts: fakeHosts(calls),
        emit: rec.sink,
        signal: new AbortController().signal,
        nodeTimeoutMs: 60_000,
        dryRun: true,
      });
      expect(r.outcome).toBe('dry-run');
      expect([hashTree(st.path), hashTree(cacheDir)]).toEqual(before);
      expect(calls).toEqual([]);
      if (lab)
        expect(
          rec.events.filter((e) => e.kind === 'phase-start').map((e) => e.kind === 'phase-start' && e.phase),
        ).toEqual(
          expect.arrayContaining(['lab-artifacts', 'lab-network', 'lab-bmcs', 'lab-api-route', 'lab-fabric']),
        );
      const planned = rec.events.filter(
        (e): e is Extract<CivoEvent, { kind: 'action' }> =>
          e.kind === 'action' && e.code === 'action.planned',
      );
      const by = (phase: string) =>
        planned.filter((a) => a.phase === phase).map((a) => `${a.target}: ${a.text}`);
      expect(by('power')).toEqual([
        'r01-n01: boot-next PXE, power on',
        'r01-n02: boot-next PXE, power on',
        'r01-n03: boot-next PXE, power on',
      ]);
      expect(by('boot-service')).toHaveLength(1);
      expect(by('wait-installed')).toHaveLength(3);
      const tor = planned.find((a) => a.phase === 'prepare' && a.target === 'r01-tor1');
      expect(tor?.diff).toContain('+++ b/switches/r01-tor1/config_db.json');
      if (fresh) {
        expect(by('prepare')).toContain('state: secret kubeadm/token: (would be generated)');
        // The token's value never reaches an event: the kubeadm config that holds it is redacted.
        const token = /[a-z0-9]{6}\.[a-z0-9]{16}/;
        expect(JSON.stringify(rec.events)).not.toMatch(token);
        const all = JSON.stringify(rec.events);
        expect(all).toContain('(would be generated)');
        expect(all).not.toMatch(/BEGIN OPENSSH PRIVATE KEY/);
      }
    }
  });
});

describe('the power phase', () => {
  it('powers every node not installed, names a node without BMC for a person, and lets one failing BMC fail only its node', async () => {
    const st = state();
    const p = labPrepared(st);
    commit(p);
    const calls: string[] = [];
    const rec = recorder();
    const r = await regionUp({
      manifest: LAB,
      prepared: p,
      environment: {
        phases: rackPhases(),
        power: fakePower(calls, { manual: 'r01-n02', broken: 'r01-n03' }),
        boot: noBoot,
      },
      emit: rec.sink,
      signal: new AbortController().signal,
      nodeTimeoutMs: 1,
      selection: { only: 'power' },
    });
    expect(r.outcome).toBe('done');
    expect([...calls].sort()).toEqual(['r01-n01 boot-next pxe', 'r01-n01 on', 'r01-n03 boot-next pxe']);
    const warnings = rec.events
      .filter((e) => e.kind === 'warning')
      .map((e) => e.kind === 'warning' && [e.code, e.message]);
    expect(warnings).toContainEqual([
      'power.manual',
      'r01-n02: no BMC credentials: power it on by hand; it boots from the network on NIC 52:54:00:aa:00:02',
    ]);
    expect(warnings).toContainEqual(['node.failed', 'r01-n03: power: BMC answered 500']);
  });
});

describe('the wait-installed phase', () => {
  it('follows each node to installed from the node store, and a failing node fails alone, with why', async () => {
    const st = state();
    const p = labPrepared(st);
    commit(p);
    const store = new NodeStore(st, p.plan.nodes);
    const rec = recorder();
    const steps: [number, string, NodeEvent][] = [
      [30, 'r01-n01', { kind: 'progress', state: 'installing', percent: 40 }],
      [60, 'r01-n02', { kind: 'progress', state: 'failed', message: 'image checksum mismatch' }],
      [90, 'r01-n01', { kind: 'progress', state: 'installed' }],
      [120, 'r01-n03', { kind: 'progress', state: 'installed' }],
    ];
    const timers = steps.map(([ms, node, e]) => setTimeout(() => store.apply(node, e), ms));
    const r = await regionUp({
      manifest: LAB,
      prepared: p,
      environment: {
        phases: rackPhases(),
        power: fakePower([]),
        boot: noBoot,
      },
      emit: rec.sink,
      signal: new AbortController().signal,
      nodeTimeoutMs: 60_000,
      selection: { only: 'wait-installed' },
      pollMs: { states: 10, ssh: 10, power: 60_000, kube: 10 },
    });
    timers.forEach(clearTimeout);
    expect(r.outcome).toBe('done');
    const states = rec.events.flatMap((e) =>
      e.kind === 'node-state'
        ? [`${e.node} ${e.state}${e.percent !== undefined ? ` ${e.percent}` : ''}`]
        : [],
    );
    expect(states.filter((s) => s.startsWith('r01-n01'))).toEqual([
      'r01-n01 installing 40',
      'r01-n01 installed 100',
    ]);
    const failed = rec.events.filter((e) => e.kind === 'warning' && e.code === 'node.failed');
    expect(failed).toEqual([
      expect.objectContaining({ target: 'r01-n02', message: 'r01-n02: image checksum mismatch' }),
    ]);
  });

  it('shows each line from where the nodes run once, while it waits (a lab machine fell back to TCG)', async () => {
    const st = state();
    const p = labPrepared(st);
    commit(p);
    const store = new NodeStore(st, p.plan.nodes);
    const rec = recorder();
    const pending = [
      { node: 'r01-n02', message: 'r01-n02 wrote nothing on its serial console in 60 s under KVM' },
    ];
    const timer = setTimeout(() => {
      for (const n of ['r01-n01', 'r01-n02', 'r01-n03'])
        store.apply(n, { kind: 'progress', state: 'installed' });
    }, 60);
    const r = await regionUp({
      manifest: LAB,
      prepared: p,
      environment: {
        phases: rackPhases(),
        power: fakePower([]),
        boot: noBoot,
        notices: () => pending.splice(0),
      },
      emit: rec.sink,
      signal: new AbortController().signal,
      nodeTimeoutMs: 60_000,
      selection: { only: 'wait-installed' },
      pollMs: { states: 10, ssh: 10, power: 60_000, kube: 10 },
    });
    clearTimeout(timer);
    expect(r.outcome).toBe('done');
    expect(rec.events.filter((e) => e.kind === 'warning' && e.code === 'lab.accel-fallback')).toEqual([
      {
        kind: 'warning',
        code: 'lab.accel-fallback',
        target: 'r01-n02',
        message: 'r01-n02 wrote nothing on its serial console in 60 s under KVM',
      },
    ]);
  });
});
