// A real OpenSSH sshd in each switch namespace, so `region diff --live` and the fabric phase reach
// the lab's switches through the same SSH path as a rack's: its own host key (kept in the state
// folder, so every run presents the same one, and recorded there as the pinned key), civostack's
// key authorised for root, and a private mount and UTS namespace in which the switch looks like a
// Debian FRR router: its FRR instance's folder on /etc/frr and /run/frr (where vtysh and
// frr-reload.py look), and its own hostname (what `show running-config` prints).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { UserError } from '../../errors.js';
import type { Exec } from '../netns.js';
import type { FrrInstance } from './frr.js';
import type { MgmtLink } from './mgmt.js';

export const SSHD = '/usr/sbin/sshd';

export interface SwitchSshOptions {
  /** civostack's public key: authorised for root on every lab switch. */
  readonly authorizedKey: string;
  /** Where each switch's host key is kept between runs: `<keyDir>/<device>/ssh_host_ed25519_key`. */
  readonly keyDir: string;
  /** Where each switch's public host key is recorded as the pinned one. */
  readonly pinnedPath: (device: string) => string;
  /** Whether the lab may write the pinned file (false: the manifest names one that exists). */
  readonly mayPin?: (device: string) => boolean;
}

export interface SwitchSshd {
  readonly device: string;
  readonly address: string;
  readonly port: number;
  /** The OpenSSH public key line the switch presents. */
  readonly hostKey: string;
}

export function sshdConfig(dir: string, link: MgmtLink, hostKey: string): string {
  return [
    `ListenAddress ${link.address}:${link.port}`,
    `HostKey ${hostKey}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'LogLevel ERROR',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    '',
  ].join('\n');
}

function portOpen(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port, timeout: 500 });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.once('timeout', () => done(false));
  });
}

async function hostKey(exec: Exec, o: SwitchSshOptions, device: string): Promise<string> {
  const key = join(o.keyDir, device, 'ssh_host_ed25519_key');
  if (!existsSync(key)) {
    mkdirSync(dirname(key), { recursive: true, mode: 0o700 });
    const r = await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', device, '-f', key]);
    if (r.exitCode !== 0) throw new UserError(`ssh-keygen for ${device}: ${r.stderr.trim()}`);
  }
  return key;
}

/** Starts sshd in the switch's namespace (after its FRR), and records its host key as the pinned one. */
export async function startSwitchSshd(
  exec: Exec,
  o: SwitchSshOptions,
  link: MgmtLink,
  frr: FrrInstance,
): Promise<SwitchSshd> {
  if (!existsSync(SSHD))
    throw new UserError(`${SSHD} is missing`, "install Debian's openssh-server (or run .ci/setup)");
  const key = await hostKey(exec, o, link.device);
  const pub = readFileSync(`${key}.pub`, 'utf8').trim();
  const pinned = o.pinnedPath(link.device);
  if (o.mayPin?.(link.device) ?? true) {
    mkdirSync(dirname(pinned), { recursive: true, mode: 0o700 });
    writeFileSync(pinned, `${pub}\n`, { mode: 0o644 });
  }
  // Beside the FRR instance's folder, not in it: that folder is the switch's /etc/frr.
  const dir = `${frr.dir}.ssh`;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  writeFileSync(join(dir, 'authorized_keys'), `${o.authorizedKey.trim()}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'sshd_config'), sshdConfig(dir, link, key), { mode: 0o600 });
  const script = [
    `hostname ${link.device}`,
    // Mount points (and sshd's privilege separation folder): made on this host when missing, as
    // Debian's frr and openssh-server packages make them; the mounts stay in this namespace.
    'mkdir -p /run/sshd /run/frr /etc/frr',
    `mount --bind ${frr.dir} /run/frr`,
    `mount --bind ${frr.dir} /etc/frr`,
    // sshd daemonises and keeps the private mount and UTS namespaces alive.
    `exec ${SSHD} -f ${join(dir, 'sshd_config')}`,
  ].join('\n');
  const r = await exec('ip', [
    'netns',
    'exec',
    link.namespace,
    'unshare',
    '--mount',
    '--propagation',
    'private',
    '--uts',
    'sh',
    '-ec',
    script,
  ]);
  if (r.exitCode !== 0)
    throw new UserError(`${link.device}: sshd did not start: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  for (let i = 0; i < 100 && !(await portOpen(link.address, link.port)); i++)
    await new Promise((res) => setTimeout(res, 50));
  if (!(await portOpen(link.address, link.port)))
    throw new UserError(`${link.device}: sshd does not answer on ${link.address}:${link.port}`);
  return { device: link.device, address: link.address, port: link.port, hostKey: pub };
}
