// The SSH executor against a real OpenSSH server on loopback: it runs commands when the host
// presents a key it was told about, and refuses (no trust-on-first-use) when it does not.
import { execa } from 'execa';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostKeyMismatch, sshExec } from '../../src/remote/index.js';
import { tempDir } from '../helpers/manifest.js';

const PORT = 20000 + (process.pid % 20000);

describe('ssh executor (real sshd)', () => {
  const dir = tempDir('civostack-ssh-');
  let sshd: { kill(signal: NodeJS.Signals): boolean } | undefined;
  let hostKey = '';
  let otherKey = '';

  beforeAll(async () => {
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_ed25519')]);
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other_ed25519')]);
    hostKey = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8');
    otherKey = readFileSync(join(dir, 'other_ed25519.pub'), 'utf8');
    const user = ssh2.utils.generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'id_ed25519'), user.private, { mode: 0o600 });
    writeFileSync(join(dir, 'authorized_keys'), `${user.public}\n`, { mode: 0o600 });
    mkdirSync('/run/sshd', { recursive: true });
    chmodSync(dir, 0o700);
    writeFileSync(
      join(dir, 'sshd_config'),
      [
        `Port ${PORT}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'host_ed25519')}`,
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'StrictModes no',
        'UsePAM no',
        `PidFile ${join(dir, 'sshd.pid')}`,
      ].join('\n'),
    );
    sshd = execa('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { reject: false });
    for (let i = 0; i < 50; i++) {
      const probe = await execa('ss', ['-ltn', `sport = :${PORT}`]);
      if (String(probe.stdout).includes(`:${PORT}`)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('sshd did not start');
  });
  afterAll(() => {
    sshd?.kill('SIGTERM');
  });

  const target = (keys: string[]) => ({
    host: '127.0.0.1',
    port: PORT,
    username: 'root',
    privateKeyFile: join(dir, 'id_ed25519'),
    knownHostKeys: keys,
  });

  it('runs a command when the host presents a known key', async () => {
    const r = await sshExec(target([otherKey, hostKey]), 'echo hello; echo oops >&2; exit 3');
    expect(r).toEqual({ code: 3, stdout: 'hello\n', stderr: 'oops\n' });
  });

  it('refuses a host whose key was not reported', async () => {
    await expect(sshExec(target([otherKey]), 'true')).rejects.toBeInstanceOf(HostKeyMismatch);
  });
});
