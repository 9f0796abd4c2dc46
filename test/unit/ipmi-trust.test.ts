// The IPMI driver running a real process in ipmitool's place (a shell script): the password reaches
// it in its environment and never its argv, a run that hangs is killed at its deadline and not
// retried, the run's signal kills it, and what it prints reaches messages without control characters.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BmcError, IpmiDriver, type IpmiOptions } from '../../src/bmc/index.js';
import { tempDir } from '../helpers/manifest.js';

const SECRET = 'ipmi-Pa55-word';

/** A stand-in for ipmitool: appends its argv and whether IPMI_PASSWORD is the secret to a log, then runs `body`. */
function fakeIpmitool(body: string): { file: string; log: string } {
  const dir = tempDir('civostack-ipmi-');
  const file = join(dir, 'ipmitool');
  const log = join(dir, 'calls.log');
  writeFileSync(
    file,
    `#!/bin/sh\nprintf '%s\\n' "argv: $*" >> '${log}'\n[ "$IPMI_PASSWORD" = '${SECRET}' ] && echo 'env: password' >> '${log}'\n${body}\n`,
  );
  chmodSync(file, 0o700);
  return { file, log };
}

function ipmi(ipmitool: string, extra: Partial<IpmiOptions> = {}): IpmiDriver {
  return new IpmiDriver({
    node: 'r2-n4',
    address: '127.0.0.1',
    cipherSuite: 17,
    credentials: () => ({ username: 'admin', password: SECRET }),
    ipmitool,
    gapMs: 0,
    ...extra,
  });
}

describe('IPMI through a real ipmitool process', () => {
  it('hands the password over in IPMI_PASSWORD, never in argv', async () => {
    const t = fakeIpmitool(`echo 'Chassis Power is off'`);
    expect((await ipmi(t.file).status()).power).toBe('off');
    const log = readFileSync(t.log, 'utf8');
    expect(log).toContain('argv: -I lanplus -H 127.0.0.1 -p 623 -U admin -E -C 17');
    expect(log).toContain('env: password');
    expect(log).not.toContain(SECRET);
  });

  it('kills a run that hangs at its deadline and does not retry it', async () => {
    const t = fakeIpmitool('exec sleep 60');
    const err = await ipmi(t.file, { runTimeoutMs: 300, attempts: 3 })
      .on()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BmcError);
    expect((err as BmcError).kind).toBe('deadline');
    expect((err as BmcError).message).toBe(
      'r2-n4: IPMI 127.0.0.1: `ipmitool chassis power on` did not finish within 0.3 s',
    );
    expect(readFileSync(t.log, 'utf8').match(/^argv:/gm)).toHaveLength(1);
  });

  it('kills the run when the run’s signal aborts, with the run’s reason', async () => {
    const dir = tempDir('civostack-ipmi-');
    const started = join(dir, 'started');
    const t = fakeIpmitool(`touch '${started}'; exec sleep 60`);
    const run = new AbortController();
    const reason = new Error('SIGTERM');
    const pending = ipmi(t.file).on(run.signal);
    while (!existsSync(started)) await new Promise((r) => setTimeout(r, 20));
    run.abort(reason);
    expect(await pending.catch((e: unknown) => e)).toBe(reason);
  });

  it('strips control characters from what it prints before a message quotes it', async () => {
    const t = fakeIpmitool(
      `case "$*" in *'power status'*) printf 'Chassis Power is \\033]0;owned\\007\\033[5mdim\\r\\n\\342\\200\\256' ;; *) printf 'Error: \\033[2Jbad\\rcompletion code 0xd5\\n' >&2; exit 1 ;; esac`,
    );
    const d = ipmi(t.file, { attempts: 1 });
    const s = await d.status();
    expect(s).toEqual({ power: 'unknown', reason: 'ipmitool answered "Chassis Power is dim"' });
    const err = await d.off().catch((e: unknown) => e);
    expect((err as BmcError).message).toBe(
      'r2-n4: IPMI 127.0.0.1: `ipmitool chassis power off` failed after 1 attempts: Error: bad completion code 0xd5',
    );
  });
});
