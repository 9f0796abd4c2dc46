// Running one step on many hosts under the shared limit: every host gets an outcome, so one failing
// host is reported by name with its error and never hides the others.
import { UserError } from '../errors.js';
import type { Limiter } from './limit.js';

export type HostOutcome<T> =
  | { readonly host: string; readonly ok: true; readonly value: T; readonly ms: number }
  | { readonly host: string; readonly ok: false; readonly error: Error; readonly ms: number };

export type FanOutEvent =
  | { readonly kind: 'host-start'; readonly step: string; readonly host: string }
  | { readonly kind: 'host-done'; readonly step: string; readonly host: string; readonly ms: number }
  | {
      readonly kind: 'host-failed';
      readonly step: string;
      readonly host: string;
      readonly ms: number;
      readonly message: string;
    };

export interface FanOutOptions {
  readonly step: string;
  readonly limiter: Limiter;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: FanOutEvent) => void;
}

/** Runs `task` once per host, at most `limiter.limit` at a time; outcomes in the order of `hosts`. */
export async function fanOut<H extends { readonly name: string }, T>(
  hosts: readonly H[],
  task: (host: H, signal?: AbortSignal) => Promise<T>,
  options: FanOutOptions,
): Promise<HostOutcome<T>[]> {
  const { step, limiter, signal, onEvent } = options;
  return Promise.all(
    hosts.map(async (host): Promise<HostOutcome<T>> => {
      let started = performance.now();
      try {
        const value = await limiter.run(() => {
          started = performance.now();
          onEvent?.({ kind: 'host-start', step, host: host.name });
          return task(host, signal);
        }, signal);
        const ms = Math.round(performance.now() - started);
        onEvent?.({ kind: 'host-done', step, host: host.name, ms });
        return { host: host.name, ok: true, value, ms };
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        const ms = Math.round(performance.now() - started);
        onEvent?.({ kind: 'host-failed', step, host: host.name, ms, message: error.message });
        return { host: host.name, ok: false, error, ms };
      }
    }),
  );
}

/** Every host that failed a step, each by name with its own error. */
export class FanOutError extends UserError {
  constructor(
    readonly step: string,
    readonly failed: readonly { readonly host: string; readonly error: Error }[],
    readonly total: number,
  ) {
    super(
      [
        `${step}: ${failed.length} of ${total} host${total === 1 ? '' : 's'} failed`,
        // Host errors usually open with the host's name already.
        ...failed.map(
          (f) => `  ${f.error.message.startsWith(f.host) ? '' : `${f.host}: `}${f.error.message}`,
        ),
      ].join('\n'),
      'each host has its log in the state folder: logs/<host>.log',
    );
    this.name = 'FanOutError';
  }
}

/** The values when every host succeeded; a FanOutError naming each failed host otherwise. */
export function allOrThrow<T>(step: string, outcomes: readonly HostOutcome<T>[]): T[] {
  const failed = outcomes.flatMap((o) => (o.ok ? [] : [{ host: o.host, error: o.error }]));
  if (failed.length > 0) throw new FanOutError(step, failed, outcomes.length);
  return outcomes.map((o) => (o as { value: T }).value);
}
