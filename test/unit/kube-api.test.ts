// Which API errors civostack waits out (an API server restarting, the VIP moving, 429/5xx) and
// which it reports at once (answers: 404, 422; a 401 or 403 only after AUTH_SETTLE_MS, the time a
// restarted API server takes to fill its authentication and RBAC caches).
import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { setTimeout as delayFor } from 'node:timers/promises';
import { AUTH_SETTLE_MS, isTransient, retryTransient } from '../../src/kube/api.js';

const refused = Object.assign(
  new Error('request to https://10.101.0.5:6443/api failed, reason: connect ECONNREFUSED'),
  {
    code: 'ECONNREFUSED',
    type: 'system',
  },
);
const hangUp = Object.assign(
  new Error('request to https://10.101.0.5:6443/apis failed, reason: socket hang up'),
  {
    code: 'ECONNRESET',
  },
);

describe('Kubernetes API errors', () => {
  it('tells a moment from an answer', () => {
    expect(isTransient(refused)).toBe(true);
    expect(isTransient(hangUp)).toBe(true);
    expect(isTransient(new ApiException(503, 'unavailable', '', {}))).toBe(true);
    expect(isTransient(new ApiException(429, 'slow down', '', {}))).toBe(true);
    expect(isTransient(new ApiException(403, 'forbidden', '', {}))).toBe(false);
    expect(isTransient(new ApiException(422, 'invalid', '', {}))).toBe(false);
    expect(isTransient(new Error('x509: certificate signed by unknown authority'))).toBe(false);
  });

  it('retries a transient failure with backoff, and gives up on an answer or after its time', async () => {
    const waits: number[] = [];
    const wait = async (ms: number) => void waits.push(ms);
    let calls = 0;
    const ok = await retryTransient(
      async () => {
        if (++calls < 4) throw refused;
        return 'applied';
      },
      120_000,
      wait,
    );
    expect(ok).toBe('applied');
    expect(waits).toEqual([1000, 2000, 4000]);

    calls = 0;
    await expect(
      retryTransient(
        async () => {
          calls++;
          throw new ApiException(422, 'invalid', '', {});
        },
        120_000,
        wait,
      ),
    ).rejects.toThrow(/invalid/);
    expect(calls).toBe(1);

    waits.length = 0;
    await expect(retryTransient(async () => Promise.reject(hangUp), 30_000, wait)).rejects.toBe(hangUp);
    expect(waits).toEqual([1000, 2000, 4000, 8000, 10_000]);
  });

  it('waits out a 403 or 401 from an API server whose caches are still filling, then reports it', async () => {
    // An API server that just restarted answers 403 until its RBAC informers sync: the call that
    // gets 403 twice and then an answer succeeds.
    const waits: number[] = [];
    const wait = async (ms: number) => void waits.push(ms);
    let calls = 0;
    const ok = await retryTransient(
      async () => {
        if (++calls <= 2) throw new ApiException(calls === 1 ? 401 : 403, 'forbidden', '', {});
        return 'applied';
      },
      120_000,
      wait,
    );
    expect(ok).toBe('applied');
    expect(waits).toEqual([1000, 2000]);

    // A denial that stands is reported once AUTH_SETTLE_MS is spent, long before the transient budget.
    waits.length = 0;
    calls = 0;
    await expect(
      retryTransient(
        async () => {
          calls++;
          throw new ApiException(403, 'forbidden', '', {});
        },
        120_000,
        wait,
      ),
    ).rejects.toThrow(/forbidden/);
    expect(waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(AUTH_SETTLE_MS);
    expect(waits).toEqual([1000, 2000, 4000, 8000, 10_000]);
    expect(calls).toBe(6);

    // Connection failures first use the transient budget; a 403 then still gets its own settle time.
    waits.length = 0;
    calls = 0;
    const after = await retryTransient(
      async () => {
        calls++;
        if (calls <= 3) throw refused;
        if (calls <= 5) throw new ApiException(403, 'forbidden', '', {});
        return 'read';
      },
      120_000,
      wait,
    );
    expect(after).toBe('read');
    expect(waits).toEqual([1000, 2000, 4000, 8000, 10_000]);
  });

  it('stops waiting between retries as soon as the run is cancelled', async () => {
    const cancel = new AbortController();
    let calls = 0;
    const pending = retryTransient(
      async () => {
        calls++;
        return Promise.reject(refused);
      },
      120_000,
      (ms) => delayFor(ms, undefined, { signal: cancel.signal }),
    );
    setTimeout(() => cancel.abort(), 50);
    await expect(pending).rejects.toThrow(/abort/i);
    // Cancelled during the first 1 s wait: no second attempt was made.
    expect(calls).toBe(1);
  });
});
