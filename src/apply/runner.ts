// The phase runner (after k0sctl's phase/manager.go): picks the phases (--only/--from), shows the
// plan of work and asks, holds the region's lock, runs each phase as observe → shouldRun →
// actions → run, cleans up on failure, stops between actions on cancellation, keeps the journal
// and emits every step as an event. It never prints.
import { ExitCode, UserError } from '../errors.js';
import type { EventSink, PhaseOutcome } from '../events.js';
import type { StateDir } from '../state/index.js';
import { acquireLock } from './lock.js';
import { startJournal, type Journal } from './journal.js';
import { actionEvent, Cancelled, type Action, type OutputKey, type Phase, type RunContext } from './phase.js';

export interface Selection {
  /** Run this phase only. */
  readonly only?: string;
  /** Start at this phase (the ones before are skipped). */
  readonly from?: string;
  /** Stop after this phase (the ones after it are not run); with `from`, a range. */
  readonly until?: string;
}

export interface PlannedPhase {
  readonly id: string;
  readonly title: string;
  /** Empty when the phase has nothing to do. */
  readonly actions: readonly Action[];
  readonly skipReason?: string;
}

export interface RunOptions<C extends RunContext> {
  readonly phases: readonly Phase<C>[];
  /** A plain object, copied with the runner's `defer` and `outputOf` added. */
  readonly ctx: Omit<C, 'defer' | 'outputOf'>;
  readonly selection?: Selection;
  /** Observe and list the actions, change nothing: no lock, no journal. */
  readonly dryRun?: boolean;
  /** Asked with the plan of work before anything acts; absent means yes (--yes). */
  readonly confirm?: (work: readonly PlannedPhase[]) => Promise<boolean>;
  /** The region's state folder for the lock and journal. */
  readonly state: StateDir;
  /** How the run is named in the lock and journal ("region up inventories/nyc1.yaml"). */
  readonly command: string;
  readonly now?: () => Date;
}

export type RunOutcome = 'done' | 'dry-run' | 'declined' | 'failed' | 'cancelled';

export interface PhaseReport {
  readonly id: string;
  readonly outcome: PhaseOutcome;
  readonly durationMs: number;
  readonly message?: string;
}

export interface RunResult {
  readonly outcome: RunOutcome;
  readonly phases: readonly PhaseReport[];
  /** The failure (a UserError or anything else) when outcome is failed or cancelled. */
  readonly error?: unknown;
}

/**
 * The phases --only/--from/--until leave, in order; an unknown id is a usage error naming the known
 * ones, and so is a range that ends before it starts.
 */
export function selectPhases<P extends { readonly id: string }>(
  phases: readonly P[],
  s: Selection = {},
): P[] {
  const ids = phases.map((p) => p.id);
  const find = (flag: string, id: string) => {
    const i = ids.indexOf(id);
    if (i < 0)
      throw new UserError(`${flag} ${id}: no such phase`, `phases: ${ids.join(', ')}`, ExitCode.usage);
    return i;
  };
  if (s.only !== undefined && (s.from !== undefined || s.until !== undefined))
    throw new UserError(
      `--only cannot be used with ${s.from !== undefined ? '--from' : '--until'}`,
      'use --only alone, or --from and --until for a range',
      ExitCode.usage,
    );
  if (s.only !== undefined) return [phases[find('--only', s.only)]!];
  const start = s.from !== undefined ? find('--from', s.from) : 0;
  const end = s.until !== undefined ? find('--until', s.until) : phases.length - 1;
  if (end < start)
    throw new UserError(
      `--until ${s.until} comes before --from ${s.from}`,
      `phases: ${ids.join(', ')}`,
      ExitCode.usage,
    );
  return phases.slice(start, end + 1);
}

/** Observes every phase and lists what it would do: the dry run and the plan of work. */
export async function planWork<C extends RunContext>(
  phases: readonly Phase<C>[],
  ctx: C,
  emit: EventSink | undefined,
  /** Where each phase's observedOutput goes, so later phases observe as they would after it. */
  outputs?: Map<string, unknown>,
): Promise<PlannedPhase[]> {
  const out: PlannedPhase[] = [];
  for (const p of phases) {
    if (ctx.signal.aborted) throw new Cancelled();
    const facts = await p.observe(ctx);
    if (outputs && p.observedOutput) outputs.set(p.id, p.observedOutput(facts, ctx));
    const run = p.shouldRun(facts, ctx);
    const actions = run ? p.actions(facts, ctx) : [];
    const skipReason = run ? undefined : (p.skipReason?.(facts, ctx) ?? 'nothing to do');
    out.push({ id: p.id, title: p.title, actions, ...(skipReason ? { skipReason } : {}) });
    if (emit) for (const a of actions) emit(actionEvent('action.planned', p.id, a));
  }
  return out;
}

export async function runPhases<C extends RunContext>(o: RunOptions<C>): Promise<RunResult> {
  const { ctx } = o;
  const now = o.now ?? (() => new Date());
  const selected = selectPhases(o.phases, o.selection);
  const deferred: (() => Promise<void>)[] = [];
  const outputs = new Map<string, unknown>();
  const runCtx = {
    ...ctx,
    defer: (fn: () => Promise<void>) => void deferred.push(fn),
    outputOf: <T>(key: OutputKey<T>) => outputs.get(key.phase) as T | undefined,
  } as C;

  if (o.dryRun) {
    const reports: PhaseReport[] = [];
    for (const p of selected) {
      const t0 = now().getTime();
      ctx.emit({ kind: 'phase-start', code: 'phase.start', phase: p.id, title: p.title });
      const [planned] = await planWork([p], runCtx, ctx.emit, outputs);
      reports.push(
        endPhase(
          ctx.emit,
          p,
          planned!.skipReason ? 'skipped' : 'done',
          now().getTime() - t0,
          planned!.skipReason,
        ),
      );
    }
    await runDeferred(deferred, ctx.emit);
    return { outcome: 'dry-run', phases: reports };
  }

  const lock = acquireLock(o.state, { command: o.command, emit: ctx.emit, now });
  const reports: PhaseReport[] = [];
  const ran: Phase<C>[] = [];
  let journal: Journal | undefined;
  try {
    if (o.confirm) {
      // The plan of work observes as a dry run does; the run then starts from nothing handed on.
      const work = await planWork(selected, runCtx, undefined, outputs);
      outputs.clear();
      if (!(await o.confirm(work))) return { outcome: 'declined', phases: [] };
    }
    journal = startJournal(o.state, { command: o.command, startedAt: now().toISOString() });
    for (const p of selected) {
      if (ctx.signal.aborted) throw new Cancelled();
      const t0 = now().getTime();
      ctx.emit({ kind: 'phase-start', code: 'phase.start', phase: p.id, title: p.title });
      let outcome: PhaseOutcome = 'done';
      let message: string | undefined;
      try {
        const facts = await p.observe(runCtx);
        if (p.shouldRun(facts, runCtx)) {
          ran.push(p);
          const output = await p.run(runCtx, p.actions(facts, runCtx), facts);
          if (output !== undefined) outputs.set(p.id, output);
        } else {
          if (p.observedOutput) outputs.set(p.id, p.observedOutput(facts, runCtx));
          outcome = 'skipped';
          message = p.skipReason?.(facts, runCtx) ?? 'nothing to do';
        }
      } catch (err) {
        outcome = err instanceof Cancelled || ctx.signal.aborted ? 'cancelled' : 'failed';
        message = (err as Error).message;
        throw err;
      } finally {
        const report = endPhase(ctx.emit, p, outcome, now().getTime() - t0, message);
        reports.push(report);
        journal.record({ ...report, phase: p.id, title: p.title, endedAt: now().toISOString() });
      }
    }
    journal.end('done', now().toISOString());
    return { outcome: 'done', phases: reports };
  } catch (err) {
    const cancelled = err instanceof Cancelled || ctx.signal.aborted;
    for (const p of [...ran].reverse()) {
      if (!p.cleanUp) continue;
      try {
        await p.cleanUp(runCtx);
      } catch (cleanErr) {
        ctx.emit({
          kind: 'warning',
          code: 'warning',
          message: `clean-up of ${p.id} failed: ${(cleanErr as Error).message}`,
        });
      }
    }
    journal?.end(cancelled ? 'cancelled' : 'failed', now().toISOString());
    return { outcome: cancelled ? 'cancelled' : 'failed', phases: reports, error: err };
  } finally {
    await runDeferred(deferred, ctx.emit);
    lock.release();
  }
}

/** Emits a phase's end and returns its report. */
function endPhase(
  emit: EventSink,
  p: { readonly id: string; readonly title: string },
  outcome: PhaseOutcome,
  durationMs: number,
  message: string | undefined,
): PhaseReport {
  const extra = message !== undefined ? { message } : {};
  emit({ kind: 'phase-end', code: 'phase.end', phase: p.id, title: p.title, outcome, durationMs, ...extra });
  return { id: p.id, outcome, durationMs, ...extra };
}

async function runDeferred(deferred: (() => Promise<void>)[], emit: EventSink): Promise<void> {
  for (const fn of deferred.reverse()) {
    try {
      await fn();
    } catch (err) {
      emit({ kind: 'warning', code: 'warning', message: `stopping: ${(err as Error).message}` });
    }
  }
  deferred.length = 0;
}
