// kubeadm on a node that is slow, not wrong: a container runtime that misses kubeadm's preflight
// deadline is waited out (a preflight failure changes nothing, so kubeadm runs again); any other
// failed check fails at once, and the error names the checks kubeadm listed, never a secret.
import { describe, expect, it } from 'vitest';
import { kubeadmJoin, KubeadmError, PREFLIGHT_ATTEMPTS, preflightErrors } from '../../src/kube/kubeadm.js';
import type { ExecOptions, ExecResult, Host } from '../../src/remote/index.js';

const CRI_FAILED = {
  code: 1,
  stdout: '[preflight] Running pre-flight checks\n',
  stderr:
    '[preflight] Some fatal errors occurred:\n' +
    '\t[ERROR CRI]: could not connect to the container runtime: validate CRI v1 runtime API for endpoint "unix:///run/containerd/containerd.sock": rpc error: code = DeadlineExceeded\n' +
    '[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`\n' +
    'error: error execution phase preflight: preflight checks failed\n' +
    'To see the stack trace of this error execute with --v=5 or higher\n',
};
const PORT_TAKEN = {
  code: 1,
  stdout: '',
  stderr:
    '[preflight] Some fatal errors occurred:\n\t[ERROR Port-10250]: Port 10250 is in use\n' +
    'error: error execution phase preflight: preflight checks failed\n',
};
const TOKEN = 'abcdef.0123456789abcdef';

/** A node whose kubeadm answers from a script, one result per run; everything else succeeds. */
function node(kubeadm: ExecResult[], logPath?: string): Host & { runs: string[] } {
  const runs: string[] = [];
  return {
    name: 'r01-n02',
    logPath,
    runs,
    exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
      runs.push(argv.join(' '));
      if (argv[0] !== 'kubeadm') return Promise.resolve({ code: 0, stdout: '', stderr: '' });
      const r = kubeadm.shift() ?? { code: 0, stdout: '', stderr: '' };
      if (r.code !== 0 && !options?.allowFailure) return Promise.reject(new Error('exec rejected'));
      return Promise.resolve(r);
    },
    upload: (path: string) => Promise.resolve({ path, sha256: '', bytes: 0, status: 'written' as const }),
    close: () => Promise.resolve(),
  };
}
const config = { content: `token: ${TOKEN}\n`, secrets: [TOKEN] };
const fresh = { joined: false, admin: false, partial: false };

describe('kubeadm on a slow node', () => {
  it('reads the failed checks from kubeadm’s output', () => {
    expect(preflightErrors(CRI_FAILED.stderr).map((e) => e.check)).toEqual(['CRI']);
    expect(preflightErrors(PORT_TAKEN.stderr)).toEqual([
      { check: 'Port-10250', message: 'Port 10250 is in use' },
    ]);
  });

  it('runs join again while the container runtime misses the preflight deadline, then marks it done', async () => {
    const host = node([CRI_FAILED, CRI_FAILED, { code: 0, stdout: '', stderr: '' }]);
    const lines: string[] = [];
    await kubeadmJoin(host, config, fresh, (m) => lines.push(m), undefined, 1);
    expect(host.runs.filter((r) => r.startsWith('kubeadm join'))).toHaveLength(3);
    expect(host.runs.at(-1)).toBe('touch /etc/civostack/kubeadm/done');
    expect(lines.filter((l) => l.includes('did not answer'))).toHaveLength(2);
    expect(lines.join('\n')).toContain(`attempt 3 of ${PREFLIGHT_ATTEMPTS}`);
  });

  it('gives up after its attempts, naming the check; the node is not marked done', async () => {
    const host = node(Array.from({ length: PREFLIGHT_ATTEMPTS + 2 }, () => CRI_FAILED));
    const err = await kubeadmJoin(host, config, fresh, () => {}, undefined, 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeadmError);
    expect((err as Error).message).toMatch(
      /^r01-n02: `kubeadm join .*` failed its preflight checks: CRI: could not connect/,
    );
    expect(host.runs.filter((r) => r.startsWith('kubeadm join'))).toHaveLength(PREFLIGHT_ATTEMPTS);
    expect(host.runs).not.toContain('touch /etc/civostack/kubeadm/done');
    // The hint names the node's log, where kubeadm's whole output is, only when there is one.
    expect((err as KubeadmError).hint).toBeUndefined();
    const logged = node([PORT_TAKEN], '/srv/state/logs/r01-n02.log');
    const e2 = (await kubeadmJoin(logged, config, fresh, () => {}, undefined, 1).catch(
      (e: unknown) => e,
    )) as KubeadmError;
    expect(e2.message).toContain('Port-10250');
    expect(e2.hint).toBe("the command's whole output is in /srv/state/logs/r01-n02.log");
  });

  it('fails at once on a check that waiting does not fix, and never shows a secret', async () => {
    const leaky = { ...PORT_TAKEN, stderr: `${PORT_TAKEN.stderr}token ${TOKEN} rejected\n` };
    const host = node([leaky, { code: 0, stdout: '', stderr: '' }]);
    const err = (await kubeadmJoin(host, config, fresh, () => {}, undefined, 1).catch(
      (e: unknown) => e,
    )) as Error;
    expect(err.message).toContain('failed its preflight checks: Port-10250: Port 10250 is in use');
    expect(host.runs.filter((r) => r.startsWith('kubeadm join'))).toHaveLength(1);
    const other = node([{ code: 1, stdout: '', stderr: `error: token ${TOKEN} is not valid\n` }]);
    const e2 = (await kubeadmJoin(other, config, fresh, () => {}, undefined, 1).catch(
      (e: unknown) => e,
    )) as Error;
    expect(e2.message).toContain('token *** is not valid');
    expect(e2.message).not.toContain(TOKEN);
  });
});
