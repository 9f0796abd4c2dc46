// FRR inside a lab namespace: Debian's zebra, staticd and bgpd started directly, each with its own
// vty socket folder, pid files and zserv socket, and the device's frr.conf applied by `vtysh -b`
// exactly as rendered (an integrated config, as SONiC's FRR container runs it).
import { chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../../errors.js';
import type { Exec } from '../netns.js';

export const FRR_DIR = '/usr/lib/frr';
export const DAEMONS = ['zebra', 'staticd', 'bgpd'] as const;

export interface FrrInstance {
  readonly device: string;
  readonly namespace: string;
  /** vty sockets, pid files, logs and the config, owned by FRR's user. */
  readonly dir: string;
}

export function frrInstance(runRoot: string, device: string, namespace: string): FrrInstance {
  return { device, namespace, dir: join(runRoot, device) };
}

function frrIds(exec: Exec): Promise<{ uid: number; gid: number } | undefined> {
  return Promise.all([exec('id', ['-u', 'frr']), exec('id', ['-g', 'frr'])]).then(([u, g]) =>
    u.exitCode === 0 && g.exitCode === 0
      ? { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) }
      : undefined,
  );
}

export async function checkFrrInstalled(exec: Exec): Promise<void> {
  const missing = DAEMONS.filter((d) => !existsSync(join(FRR_DIR, d)));
  if (missing.length > 0 || (await frrIds(exec)) === undefined)
    throw new UserError(
      `FRR is not installed (${missing.length ? `no ${missing.map((d) => join(FRR_DIR, d)).join(', ')}` : 'no frr user'})`,
      "install Debian's frr package: apt-get install frr (or run .ci/setup)",
    );
}

/**
 * Starts the daemons in the instance's namespace and applies `config` (which may hold BGP
 * passwords: written 0600, owned by root, read only by vtysh). Returns FRR's complaints about
 * the config: an empty list means every line was accepted.
 */
export async function startFrr(exec: Exec, i: FrrInstance, config: string): Promise<string[]> {
  const ids = (await frrIds(exec))!;
  rmSync(i.dir, { recursive: true, force: true });
  // FRR's user must traverse the parents; the instance folder itself is FRR's.
  mkdirSync(dirname(i.dir), { recursive: true, mode: 0o755 });
  mkdirSync(i.dir, { mode: 0o750 });
  chownSync(i.dir, ids.uid, ids.gid);
  writeFileSync(join(i.dir, 'frr.conf'), config, { mode: 0o600 });
  // As Debian's own vtysh.conf: one integrated frr.conf (what frr-reload.py requires).
  writeFileSync(join(i.dir, 'vtysh.conf'), 'service integrated-vtysh-config\n', { mode: 0o600 });
  for (const d of DAEMONS) {
    // Each switch its own hostname (a UTS namespace per daemon, kept alive by it): what the
    // daemons print in `show running-config` and bgpd announces in its hostname capability.
    const r = await exec('ip', [
      'netns',
      'exec',
      i.namespace,
      'unshare',
      '--uts',
      'sh',
      '-ec',
      'hostname "$1"; shift; exec "$@"',
      'sh',
      i.device,
      join(FRR_DIR, d),
      '-d',
      '--vty_socket',
      i.dir,
      '-i',
      join(i.dir, `${d}.pid`),
      '-z',
      join(i.dir, 'zserv.api'),
      '-f',
      '/dev/null',
      '--log',
      `file:${join(i.dir, `${d}.log`)}`,
    ]);
    if (r.exitCode !== 0)
      throw new UserError(`${i.device}: ${d} did not start: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  }
  // The daemons' vty sockets appear just after they fork: retry until vtysh reaches zebra.
  // Kernel nexthop groups off: FRR 8.4's zebra misses that the kernel drops a downed link's
  // nexthop from a group, so after a link flap the route stays on the surviving path only (seen in
  // the drill). SONiC programs the ASIC through fpm, not kernel groups, so this is lab plumbing.
  for (let attempt = 0; ; attempt++) {
    const r = await exec('vtysh', [
      '--vty_socket',
      i.dir,
      '-c',
      'configure terminal',
      '-c',
      'no zebra nexthop kernel enable',
    ]);
    if (r.exitCode === 0 && !/failed to connect|not running/i.test(r.stdout + r.stderr)) break;
    if (attempt >= 40)
      throw new UserError(
        `${i.device}: zebra does not answer on ${i.dir}: ${r.stderr.trim() || r.stdout.trim()}`,
      );
    await new Promise((res) => setTimeout(res, 250));
  }
  for (let attempt = 0; ; attempt++) {
    const r = await exec('vtysh', ['--vty_socket', i.dir, '--config_dir', i.dir, '-b']);
    const complaints = `${r.stdout}\n${r.stderr}`
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !/^Configuration file\[|^Waiting for children|^Exiting from/.test(l));
    const unreachable = complaints.some((l) => /failed to connect|Connection refused|No such file/i.test(l));
    if (!unreachable || attempt >= 20) return complaints;
    await new Promise((res) => setTimeout(res, 250));
  }
}

export async function vtysh(exec: Exec, i: FrrInstance, ...commands: string[]): Promise<string> {
  // A loaded two-core host can make a daemon miss vtysh's connect: tried three times.
  for (let attempt = 0; ; attempt++) {
    const r = await exec('vtysh', ['--vty_socket', i.dir, ...commands.flatMap((c) => ['-c', c])]);
    if (r.exitCode === 0) return r.stdout;
    if (attempt >= 2)
      throw new Error(`${i.device}: vtysh ${commands.join('; ')}: ${r.stderr.trim() || r.stdout.trim()}`);
    await new Promise((res) => setTimeout(res, 300));
  }
}

export async function vtyshJson<T>(exec: Exec, i: FrrInstance, command: string): Promise<T> {
  const out = await vtysh(exec, i, command);
  return JSON.parse(out.trim() || '{}') as T;
}
