// The one concurrency limit all fan-out shares (`--concurrency`): at most `limit` hosts are being
// worked on at once, whichever phase or step asks.
import { UserError, ExitCode } from '../errors.js';

export const DEFAULT_CONCURRENCY = 30;

export class Limiter {
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number = DEFAULT_CONCURRENCY) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`concurrency must be a positive integer, not ${limit}`);
  }

  get active(): number {
    return this.#active;
  }

  /** Runs `task` when a slot is free; a task aborted while waiting never starts. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.#acquire(signal);
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  #acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#active < this.limit) {
      this.#active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const go = (): void => {
        signal?.removeEventListener('abort', abort);
        this.#active++;
        resolve();
      };
      const abort = (): void => {
        const i = this.#waiting.indexOf(go);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', abort, { once: true });
      this.#waiting.push(go);
    });
  }

  #release(): void {
    this.#active--;
    this.#waiting.shift()?.();
  }
}

/** `--concurrency N`: a positive integer, or a usage error saying so. */
export function parseConcurrency(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n < 1)
    throw new UserError(
      `--concurrency ${JSON.stringify(text)} is not a positive integer`,
      `hosts worked on at once, e.g. --concurrency ${DEFAULT_CONCURRENCY}`,
      ExitCode.usage,
    );
  return n;
}
