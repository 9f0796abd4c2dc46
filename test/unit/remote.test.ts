// The remote layer's pure parts: quoting, redaction, the limiter's bookkeeping and the fan-out's
// per-host outcomes (with hosts that are plain objects: no SSH here, see integration/remote.test.ts).
import { describe, expect, it } from 'vitest';
import {
  allOrThrow,
  fanOut,
  FanOutError,
  Limiter,
  parseConcurrency,
  redact,
  shellQuote,
} from '../../src/remote/index.js';
import { UserError } from '../../src/errors.js';

describe('shellQuote', () => {
  it('leaves plain words alone and single-quotes everything else', () => {
    expect(shellQuote(['ls', '-l', '/etc/rancher/k3s'])).toBe('ls -l /etc/rancher/k3s');
    expect(shellQuote(['echo', "it's", '', '$(id)'])).toBe(`echo 'it'\\''s' '' '$(id)'`);
  });
});

describe('redact', () => {
  it('hides every secret, the longest first so one containing another is hidden whole', () => {
    expect(redact('token abc and abcdef', ['abc', 'abcdef'])).toBe('token *** and ***');
    expect(redact('nothing', [''])).toBe('nothing');
  });
});

describe('Limiter', () => {
  it('never starts a task that was aborted while it waited', async () => {
    const limiter = new Limiter(1);
    let release!: () => void;
    const first = limiter.run(() => new Promise<void>((r) => (release = r)));
    const controller = new AbortController();
    let ran = false;
    const second = limiter.run(async () => {
      ran = true;
    }, controller.signal);
    controller.abort(new Error('stopped'));
    await expect(second).rejects.toThrow('stopped');
    release();
    await first;
    expect([ran, limiter.active]).toEqual([false, 0]);
  });

  it('takes --concurrency as a positive integer only', () => {
    expect(parseConcurrency('30')).toBe(30);
    expect(() => parseConcurrency('0')).toThrow(UserError);
    expect(() => parseConcurrency('ten')).toThrow(/--concurrency "ten" is not a positive integer/);
  });
});

describe('fanOut', () => {
  it('gives every host its outcome, in order, and names each failure', async () => {
    const hosts = ['a', 'b', 'c'].map((name) => ({ name }));
    const outcomes = await fanOut(
      hosts,
      async (h) => {
        if (h.name !== 'a') throw new Error(`${h.name}: disk full`);
        return h.name.toUpperCase();
      },
      { step: 'stage', limiter: new Limiter(2) },
    );
    expect(outcomes.map((o) => [o.host, o.ok])).toEqual([
      ['a', true],
      ['b', false],
      ['c', false],
    ]);
    const error = (() => {
      try {
        allOrThrow('stage', outcomes);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(FanOutError);
    expect((error as Error).message).toBe('stage: 2 of 3 hosts failed\n  b: disk full\n  c: disk full');
  });
});
