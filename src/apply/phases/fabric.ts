// Fabric: each switch's running configuration read over SSH (pinned host keys) and compared with
// its render; the ones that differ get their render pushed (frr-reload.py for FRR, so unchanged BGP
// sessions stay up; config load/reload for SONiC's config_db.json), then are read again and must
// match. A switch without a pinned host key is not contacted.
import type { FileChange } from '../../diff/index.js';
import { configDbPath, formatChanges, frrPath, liveChanges, type LiveDevice } from '../../diff/index.js';
import { UserError } from '../../errors.js';
import {
  civostackKey,
  describeSteps,
  openSwitch,
  pushSteps,
  readLive,
  runPushSteps,
  type LiveRead,
} from '../../live/index.js';
import { previewTree } from '../../pipeline.js';
import { allOrThrow, fanOut, fileHostLog } from '../../remote/index.js';
import { committedRegion, type RegionContext } from '../context.js';
import type { Action, Phase } from '../phase.js';

interface Facts {
  /** Why the switches cannot be reached now (the lab's fabric is not running), from the environment. */
  readonly down?: string;
  readonly read?: LiveRead;
  readonly changes: readonly FileChange[];
}

function byDevice(changes: readonly FileChange[]): Map<string, FileChange[]> {
  const out = new Map<string, FileChange[]>();
  for (const c of changes) out.set(c.device, [...(out.get(c.device) ?? []), c]);
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function notCompared(read: LiveRead | undefined): string {
  const u = read?.unreachable ?? [];
  return u.length ? `; not compared (no pinned SSH host key): ${u.map((x) => x.device).join(', ')}` : '';
}

/** The render paths each switch runs as rendered: record-applied records them as applied. */
function inSync(
  ctx: RegionContext,
  devices: readonly LiveDevice[],
  changes: readonly FileChange[],
): Set<string> {
  const differ = new Set(changes.map((c) => c.path));
  const out = new Set<string>();
  for (const d of devices)
    for (const path of [frrPath(d.device), ...(d.platform === 'sonic' ? [configDbPath(d.device)] : [])])
      if (!differ.has(path) && ctx.prepared().tree.has(path)) out.add(path);
  return out;
}

export interface FabricPhaseOptions {
  /**
   * Why the switches cannot be reached now, or undefined when they can: the lab's switches are
   * namespaces its lab-fabric phase starts. A rack's switches are always there to be tried.
   */
  readonly down?: (ctx: RegionContext) => Promise<string | undefined>;
}

export function fabricPhase(o: FabricPhaseOptions = {}): Phase<RegionContext, Facts, ReadonlySet<string>> {
  return {
    id: 'fabric',
    title: 'Switch configurations: compare what runs with the render, push what differs',
    async observe(ctx) {
      const p = ctx.prepared();
      const down = await o.down?.(ctx);
      if (down !== undefined) return { down, changes: [] };
      const read = await readLive(p, { limiter: ctx.limiter, signal: ctx.signal });
      const changes = liveChanges(previewTree(p), read.devices, p.secretValues);
      return { read, changes };
    },
    observedOutput: (f, ctx) => (f.read ? inSync(ctx, f.read.devices, f.changes) : new Set()),
    shouldRun: (f) => f.changes.length > 0 || (f.read?.failed.length ?? 0) > 0,
    skipReason: (f) =>
      f.down ??
      (f.read && f.read.targets.length > 0
        ? `every switch runs its render (${f.read.devices.map((d) => d.device).join(', ')})${notCompared(f.read)}`
        : `no switch has a pinned SSH host key (ssh.hostKeyFile): nothing compared${notCompared(f.read)}`),
    actions(f) {
      const out: Action[] = [];
      const live = new Map((f.read?.devices ?? []).map((d) => [d.device, d]));
      for (const [device, list] of byDevice(f.changes)) {
        const d = live.get(device)!;
        const paths = new Set(list.map((c) => c.path));
        const steps = pushSteps(d, {
          ...(paths.has(frrPath(device)) ? { frr: '' } : {}),
          ...(paths.has(configDbPath(device)) ? { configDb: '{}' } : {}),
        });
        const added = list.reduce((n, c) => n + c.added, 0);
        const removed = list.reduce((n, c) => n + c.removed, 0);
        out.push({
          target: device,
          text: `${d.platform === 'sonic' ? 'SONiC' : 'FRR'} (+${added} -${removed}): ${describeSteps(steps)}`,
          diff: formatChanges(list, false).split('\n').slice(0, -2).join('\n'),
        });
      }
      for (const x of f.read?.failed ?? [])
        out.push({ target: x.device, text: `cannot be read: ${x.error.message}` });
      return out;
    },
    async run(ctx, _actions, facts) {
      const p = committedRegion(ctx);
      const read = facts.read!;
      const changed = byDevice(facts.changes);
      const live = new Map(read.devices.map((d) => [d.device, d]));
      const key = civostackKey(p.state);
      const targets = read.targets.filter((t) => changed.has(t.name));
      const outcomes = await fanOut(
        targets,
        async (t, signal) => {
          const paths = new Set(changed.get(t.name)!.map((c) => c.path));
          const frr = p.tree.get(frrPath(t.name));
          const db = p.tree.get(configDbPath(t.name));
          const steps = pushSteps(live.get(t.name)!, {
            ...(frr && paths.has(frrPath(t.name)) ? { frr: frr.content } : {}),
            ...(db && paths.has(configDbPath(t.name)) ? { configDb: db.content } : {}),
          });
          const host = openSwitch(t, key, { log: fileHostLog(p.state.path, t.name) });
          try {
            await runPushSteps(host, t, steps, p.secretValues, signal);
          } finally {
            await host.close();
          }
        },
        { step: 'push switch configuration', limiter: ctx.limiter, signal: ctx.signal },
      );
      // Read back what was pushed: the phase is done when each switch runs its render.
      const after = await readLive(p, {
        limiter: ctx.limiter,
        signal: ctx.signal,
        only: new Set(changed.keys()),
      });
      const still = liveChanges(p.tree, after.devices, p.secretValues);
      const running = new Set([
        ...inSync(ctx, read.devices, facts.changes),
        ...inSync(ctx, after.devices, still),
      ]);
      for (const d of after.devices)
        if (!still.some((c) => c.device === d.device)) {
          ctx.emit({
            kind: 'log',
            code: 'log',
            phase: 'fabric',
            target: d.device,
            message: `${d.device} runs its render`,
          });
        }
      allOrThrow('push switch configuration', [
        ...outcomes,
        ...read.failed.map((x) => ({ host: x.device, ok: false as const, error: x.error, ms: 0 })),
        ...after.failed.map((x) => ({ host: x.device, ok: false as const, error: x.error, ms: 0 })),
      ]);
      if (still.length > 0)
        throw new UserError(
          `after the push, ${[...byDevice(still).keys()].join(', ')} still differ from the render:\n${formatChanges(still, false)}`,
          'the device refused part of its configuration: see its log in the state folder (logs/<switch>.log)',
        );
      return running;
    },
  };
}
