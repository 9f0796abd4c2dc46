// A fleet of real OpenSSH servers on one machine, for the remote layer's tests and bench: each host
// is a network namespace with its own address, its own sshd and host key, and its own /srv (a
// private mount namespace binds a per-host folder there), so uploads to one never land on another.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { intToIp, ipToInt } from '../manifest/index.js';

const run = promisify(execFile);

export interface SshFleetOptions {
  /** Names of namespaces, veths and the bridge start with it (unique per user of the machine). */
  readonly prefix: string;
  readonly count: number;
  /** The fleet's network, e.g. "10.203.0.0/17": the bridge takes .1, hosts from .10. */
  readonly network: string;
  /** Working folder: keys, configs, pid files, and each host's /srv. */
  readonly dir: string;
  /** A non-root login with passwordless sudo on every host (private /etc/passwd, shadow, sudoers.d). */
  readonly user?: string;
}

export interface FleetHost {
  readonly name: string;
  readonly namespace: string;
  readonly address: string;
  /** The OpenSSH public key line of the host's current host key. */
  hostKey: string;
  /** The host folder bound on /srv inside the host. */
  readonly srv: string;
}

export interface SshFleet {
  readonly hosts: readonly FleetHost[];
  /** The private key every login accepts (root and `user`). */
  readonly clientKey: string;
  stop(host: FleetHost): Promise<void>;
  start(host: FleetHost): Promise<void>;
  /** A new host key, sshd restarted: what a reinstalled node or an impostor looks like. */
  rekey(host: FleetHost): Promise<void>;
  destroy(): Promise<void>;
}

async function sh(script: string): Promise<string> {
  const r = await run('sh', ['-ec', script], { maxBuffer: 16 << 20 });
  return r.stdout;
}

async function pool<T>(items: readonly T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await f(items[next++] as T);
    }),
  );
}

/** Removes every namespace (and the processes in it) and the bridge carrying `prefix`: leftovers of a killed run too. */
export async function destroySshFleet(prefix: string): Promise<void> {
  const list = await sh('ip netns list 2>/dev/null | cut -d" " -f1');
  const mine = list.split('\n').filter((n) => n.startsWith(`${prefix}-`));
  await pool(mine, 8, async (ns) => {
    await sh(
      `for p in $(ip netns pids ${ns}); do kill -9 $p 2>/dev/null || true; done; ip netns del ${ns} 2>/dev/null || true`,
    );
  });
  // Links go explicitly, and are waited for: the kernel frees a deleted namespace's veths later.
  const links = async (): Promise<string[]> =>
    (await sh(`ip -o link show | cut -d: -f2 | cut -d@ -f1`))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith(`${prefix}-`));
  for (let i = 0; i < 100; i++) {
    const left = await links();
    if (left.length === 0) return;
    if (i % 10 === 0) {
      const batch = join(tmpdir(), `${prefix}-links.batch`);
      writeFileSync(batch, left.map((l) => `link del ${l}`).join('\n') + '\n');
      await run('ip', ['-force', '-batch', batch]).catch(() => undefined);
      rmSync(batch, { force: true });
    }
    await sleep(100);
  }
  throw new Error(`links ${(await links()).join(', ')} are still there after 10 s`);
}

function portOpen(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port: 22, timeout: 500 });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

export async function startSshFleet(o: SshFleetOptions): Promise<SshFleet> {
  const [base, len] = o.network.split('/');
  const first = ipToInt(base ?? '');
  const bridge = `${o.prefix}-br`;
  if (bridge.length > 15) throw new Error(`fleet prefix ${o.prefix} is too long for interface names`);
  await destroySshFleet(o.prefix);
  mkdirSync(join(o.dir, 'keys'), { recursive: true, mode: 0o755 });
  mkdirSync('/run/sshd', { recursive: true });
  const clientKey = join(o.dir, 'keys', 'id_ed25519');
  if (!existsSync(clientKey))
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fleet', '-f', clientKey]);
  // Readable by a non-root login: sshd reads authorized keys as the user.
  writeFileSync(join(o.dir, 'keys', 'authorized_keys'), readFileSync(`${clientKey}.pub`), { mode: 0o644 });
  if (o.user) {
    const etc = join(o.dir, 'etc');
    mkdirSync(join(etc, 'sudoers.d'), { recursive: true });
    const uid = 4203;
    writeFileSync(
      join(etc, 'passwd'),
      `${readFileSync('/etc/passwd', 'utf8')}${o.user}:x:${uid}:${uid}::/srv:/bin/sh\n`,
    );
    writeFileSync(join(etc, 'group'), `${readFileSync('/etc/group', 'utf8')}${o.user}:x:${uid}:\n`);
    writeFileSync(
      join(etc, 'shadow'),
      `${readFileSync('/etc/shadow', 'utf8')}${o.user}:*:19000:0:99999:7:::\n`,
      { mode: 0o640 },
    );
    writeFileSync(join(etc, 'sudoers.d', 'fleet'), `${o.user} ALL=(ALL:ALL) NOPASSWD: ALL\n`, {
      mode: 0o440,
    });
  }

  const hosts: FleetHost[] = Array.from({ length: o.count }, (_, i) => {
    const name = `h${i + 1}`;
    return {
      name,
      namespace: `${o.prefix}-${name}`,
      address: intToIp(first + 10 + i),
      hostKey: '',
      srv: join(o.dir, name, 'srv'),
    };
  });
  const veth = (h: FleetHost): string => `${o.prefix}-v${h.name.slice(1)}`;
  if (veth(hosts[hosts.length - 1] as FleetHost).length > 15)
    throw new Error('fleet prefix too long for veth names');

  const batch = [
    `link add ${bridge} type bridge`,
    `addr add ${intToIp(first + 1)}/${len} dev ${bridge}`,
    `link set ${bridge} up`,
    ...hosts.flatMap((h) => [
      `netns add ${h.namespace}`,
      `link add ${veth(h)} type veth peer name eth0 netns ${h.namespace}`,
      `link set ${veth(h)} master ${bridge} up`,
    ]),
  ];
  writeFileSync(join(o.dir, 'ip.batch'), `${batch.join('\n')}\n`);
  await run('ip', ['-batch', join(o.dir, 'ip.batch')]);
  await pool(hosts, 8, async (h) => {
    await run('ip', ['-n', h.namespace, 'addr', 'add', `${h.address}/${len}`, 'dev', 'eth0']);
    await run('ip', ['-n', h.namespace, 'link', 'set', 'eth0', 'up']);
    await run('ip', ['-n', h.namespace, 'link', 'set', 'lo', 'up']);
    mkdirSync(h.srv, { recursive: true });
    mkdirSync(join(o.dir, h.name, 'root'), { recursive: true, mode: 0o700 });
    await keygen(h);
    writeFileSync(join(o.dir, h.name, 'sshd_config'), sshdConfig(o, h));
  });

  async function keygen(h: FleetHost): Promise<void> {
    const key = join(o.dir, h.name, 'ssh_host_ed25519_key');
    rmSync(key, { force: true });
    rmSync(`${key}.pub`, { force: true });
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', h.name, '-f', key]);
    h.hostKey = readFileSync(`${key}.pub`, 'utf8').trim();
  }

  async function start(h: FleetHost): Promise<void> {
    const etc = join(o.dir, 'etc');
    const binds = [
      `mount --bind ${h.srv} /srv`,
      // Root's own home per host: no shared ~/.ansible, and not this machine's shell start-up files.
      `mount --bind ${join(o.dir, h.name, 'root')} /root`,
      ...(o.user
        ? ['passwd', 'group', 'shadow']
            .map((f) => `mount --bind ${join(etc, f)} /etc/${f}`)
            .concat(`mount --bind ${join(etc, 'sudoers.d')} /etc/sudoers.d`)
        : []),
    ];
    // sshd daemonises: it keeps the private mount namespace alive; unshare and ip return.
    await run('ip', [
      'netns',
      'exec',
      h.namespace,
      'unshare',
      '-m',
      '--propagation',
      'private',
      'sh',
      '-ec',
      `${binds.join('; ')}; exec /usr/sbin/sshd -f ${join(o.dir, h.name, 'sshd_config')}`,
    ]);
    for (let i = 0; i < 100 && !(await portOpen(h.address)); i++) await sleep(50);
    if (!(await portOpen(h.address)))
      throw new Error(`sshd of fleet host ${h.name} (${h.address}) did not start`);
  }

  async function stop(h: FleetHost): Promise<void> {
    const pid = join(o.dir, h.name, 'sshd.pid');
    if (existsSync(pid)) {
      await sh(`kill ${readFileSync(pid, 'utf8').trim()} 2>/dev/null || true`);
      rmSync(pid, { force: true });
    }
    for (let i = 0; i < 100 && (await portOpen(h.address)); i++) await sleep(50);
  }

  await pool(hosts, 8, start);
  return {
    hosts,
    clientKey,
    start,
    stop,
    async rekey(h) {
      await stop(h);
      await keygen(h);
      await start(h);
    },
    destroy: () => destroySshFleet(o.prefix),
  };
}

function sshdConfig(o: SshFleetOptions, h: FleetHost): string {
  const dir = join(o.dir, h.name);
  return [
    `ListenAddress ${h.address}:22`,
    `HostKey ${join(dir, 'ssh_host_ed25519_key')}`,
    `AuthorizedKeysFile ${join(o.dir, 'keys', 'authorized_keys')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'StrictModes no',
    'UsePAM no',
    'MaxStartups 200:30:400',
    'LogLevel ERROR',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    '',
  ].join('\n');
}
