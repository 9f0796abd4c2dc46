// What a phase is (after k0sctl's phase.Phase): it observes the actual state, decides whether it
// has work, lists that work as data (the dry run and the plan of work print it), then does it.
import { ExitCode, UserError } from '../errors.js';
import type { CivoEvent, EventSink } from '../events.js';
import type { Limiter } from '../remote/index.js';

/** One thing a phase would do to one host or device. */
export interface Action {
  /** The host or device ("r01-n01", "r01-tor1", "this host", "state"). */
  readonly target: string;
  readonly text: string;
  /** The configuration change it applies, as a unified diff with secrets redacted. */
  readonly diff?: string;
}

/**
 * The name under which a phase hands a result to later phases of the same run, with its type: the
 * phase's id. Phases share results this way, as values the runner keeps, never by writing into the
 * context.
 */
export interface OutputKey<T> {
  readonly phase: string;
  /** Never set: carries T. */
  readonly type?: T;
}

export const outputKey = <T>(phase: string): OutputKey<T> => ({ phase });

/** What the runner hands every phase; region up's phases get more (src/apply/context.ts). */
export interface RunContext {
  readonly signal: AbortSignal;
  readonly emit: EventSink;
  /** Runs `fn` when the run ends, success or not (supervised services stop there), last first. */
  defer(fn: () => Promise<void>): void;
  /**
   * What an earlier phase of this run handed on (what its run returned, or its observedOutput when
   * it had nothing to do or the run is dry); undefined when it was not selected or gave nothing.
   */
  outputOf<T>(key: OutputKey<T>): T | undefined;
}

export interface Phase<C extends RunContext = RunContext, F = unknown, O = unknown> {
  /** Short, stable, for --only/--from and the journal: "power", "wait-installed". */
  readonly id: string;
  readonly title: string;
  /** Reads hosts, devices and BMCs: the truth, never only the journal. Must not change anything. */
  observe(ctx: C): Promise<F>;
  shouldRun(facts: F, ctx: C): boolean;
  /** Why there is nothing to do, for the log ("every node is installed"). */
  skipReason?(facts: F, ctx: C): string;
  actions(facts: F, ctx: C): readonly Action[];
  /** Does the work; what it returns is the phase's output for later phases (ctx.outputOf). */
  run(ctx: C, actions: readonly Action[], facts: F): Promise<O | void>;
  /** The phase's output from its facts alone: when it is skipped, and in a dry run. */
  observedOutput?(facts: F, ctx: C): O;
  /** After a failure or cancellation, for each phase that ran, last first. */
  cleanUp?(ctx: C): Promise<void>;
}

/** The run was interrupted (SIGINT/SIGTERM) and stopped between two actions. */
export class Cancelled extends UserError {
  constructor(message = 'cancelled: stopped between two actions') {
    super(message, 'run it again: every phase looks at what is done first', ExitCode.cancelled);
    this.name = 'Cancelled';
  }
}

export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new Cancelled();
}

/** Sleeps `ms`, or less when the run is cancelled (then throws Cancelled). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Cancelled());
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Cancelled());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `fn` for each action: one at a time, or under the run's limiter (`--concurrency`) when
 * given. A cancellation starts no new action: those under way finish, then Cancelled is thrown,
 * so nothing is left half done.
 */
export async function eachAction(
  ctx: RunContext,
  phase: string,
  actions: readonly Action[],
  fn: (action: Action) => Promise<void>,
  limiter?: Limiter,
): Promise<void> {
  let next = 0;
  let failure: unknown;
  const run = limiter ? (a: Action) => limiter.run(() => fn(a)) : fn;
  const worker = async (): Promise<void> => {
    while (next < actions.length && failure === undefined && !ctx.signal.aborted) {
      const action = actions[next++]!;
      ctx.emit(actionEvent('action.start', phase, action));
      try {
        await run(action);
        ctx.emit(actionEvent('action.done', phase, action));
      } catch (err) {
        failure ??= err;
      }
    }
  };
  const workers = Math.max(1, Math.min(limiter?.limit ?? 1, actions.length));
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure !== undefined) throw failure;
  throwIfCancelled(ctx.signal);
}

export function actionEvent(
  code: 'action.planned' | 'action.start' | 'action.done',
  phase: string,
  a: Action,
): CivoEvent {
  return {
    kind: 'action',
    code,
    phase,
    target: a.target,
    text: a.text,
    ...(a.diff !== undefined && code === 'action.planned' ? { diff: a.diff } : {}),
  };
}
