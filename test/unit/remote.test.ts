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
import { k3sKubeconfig } from '../../src/kube/k3s.js';
import { kubeadmInit } from '../../src/kube/kubeadm.js';
import type { ExecOptions, Host } from '../../src/remote/host.js';
import { loggedExec } from '../../src/remote/log.js';

describe('a command that fails on a host', () => {
  const fail = (log: { path?: string; write: (l: string) => void }) =>
    loggedExec('r01-n01', log, 'kubeadm join', {}, () =>
      Promise.resolve({ code: 1, stdout: '', stderr: 'error: TLS bootstrap timed out' }),
    ).catch((err: unknown) => err);

  it("is the host's answer, a UserError, whose hint names the host's log when it has one", async () => {
    const err = (await fail({ path: '/state/logs/r01-n01.log', write: () => undefined })) as UserError;
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toBe('r01-n01: `kubeadm join` exited 1: error: TLS bootstrap timed out');
    expect(err.hint).toBe("the command's whole output is in /state/logs/r01-n01.log");
    // A log kept elsewhere (no file): no hint pointing at a file that is not there.
    expect(((await fail({ write: () => undefined })) as UserError).hint).toBeUndefined();
  });
});

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

describe('a command that prints a secret', () => {
  const KEY = 'client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0t';
  const logged = async (options: ExecOptions) => {
    const lines: string[] = [];
    const r = await loggedExec(
      'h1',
      { write: (l) => lines.push(l) },
      'cat /etc/kubernetes/admin.conf',
      options,
      () => Promise.resolve({ code: 0, stdout: `apiVersion: v1\n${KEY}\n`, stderr: '' }),
    );
    return { r, log: lines.join('\n') };
  };

  it('leaves its output out of the host log and hands it to the caller', async () => {
    const { r, log } = await logged({ secretOutput: true });
    expect(r.stdout).toContain(KEY);
    expect(log).not.toContain('client-key-data');
    expect(log).toMatch(/\(\d+ bytes of secret output, not logged\)/);
    // Without the flag the output is logged, which is what the flag is for.
    expect((await logged({})).log).toContain(KEY);
  });

  it("is how kubeadm init and K3s read the cluster's admin kubeconfig", async () => {
    const seen: { argv: readonly string[]; options: ExecOptions | undefined }[] = [];
    const host = {
      name: 'h1',
      exec: (argv: readonly string[], options?: ExecOptions) => {
        seen.push({ argv, options });
        return Promise.resolve({ code: 0, stdout: `${KEY}\n`, stderr: '' });
      },
    } as unknown as Host;
    await kubeadmInit(
      host,
      { content: '', secrets: [] },
      { joined: true, admin: true, partial: false },
      () => {},
    );
    await k3sKubeconfig(host, '10.0.0.10');
    const reads = seen.filter((s) => s.argv[0] === 'cat');
    expect(reads.map((s) => s.argv[1])).toEqual(['/etc/kubernetes/admin.conf', '/etc/rancher/k3s/k3s.yaml']);
    for (const s of reads) expect(s.options?.secretOutput, s.argv[1]).toBe(true);
  });
});
