// The remote layer against real OpenSSH servers: six hosts, each a network namespace with its own
// sshd, host key and /srv, plus a non-root login with Debian's sudo. What a phase relies on: argv
// arrives intact, the shared limit holds on the servers' side, a changed host key is refused by
// name, an unchanged upload is not rewritten, one dead host never hides the others.
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroySshFleet, startSshFleet, type FleetHost, type SshFleet } from '../../src/lab/ssh-fleet.js';
import {
  allOrThrow,
  fanOut,
  fileHostLog,
  fingerprint,
  HostKeyChanged,
  hostLogPath,
  keyBlob,
  Limiter,
  LocalHost,
  pull,
  RemoteCommandError,
  SshHost,
  type ExecOptions,
  type HostOutcome,
} from '../../src/remote/index.js';
import { uploadByExec } from '../../src/remote/upload.js';
import { tempDir } from '../helpers/manifest.js';

const PREFIX = 'cvrm-t';
const USER = 'deploy';
/** Another host's key: a host must present one of its own, not just any known key. */
const STRANGER = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGNpdm9zdGFjay10ZXN0LWtleS1ub3QtZm9yLXVzZQ stranger';

describe('remote hosts over SSH (real sshd per namespace)', () => {
  const dir = tempDir('civostack-remote-');
  const state = join(dir, 'state');
  let fleet: SshFleet;

  const host = (h: FleetHost, extra: Partial<ConstructorParameters<typeof SshHost>[0]> = {}): SshHost =>
    new SshHost({
      name: h.name,
      address: h.address,
      username: 'root',
      privateKey: readFileSync(fleet.clientKey),
      knownHostKeys: [STRANGER, h.hostKey],
      log: fileHostLog(state, h.name),
      connectAttempts: 3,
      backoffMs: 100,
      ...extra,
    });

  beforeAll(async () => {
    chmodSync(dir, 0o755); // the non-root login reads authorized_keys below it
    fleet = await startSshFleet({ prefix: PREFIX, count: 6, network: '10.203.200.0/24', dir, user: USER });
  });
  afterAll(async () => {
    await destroySshFleet(PREFIX);
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes argv through the remote shell word for word', async () => {
    const h = host(fleet.hosts[0] as FleetHost);
    const argv = ['a b', "it's", '$HOME', '; touch /srv/pwned', '`id`', ''];
    const r = await h.exec(['printf', '<%s>', ...argv]);
    await h.close();
    expect(r.stdout).toBe(argv.map((a) => `<${a}>`).join(''));
    expect(() => statSync(join((fleet.hosts[0] as FleetHost).srv, 'pwned'))).toThrow();
  });

  it('keeps secrets out of the host log, which is 0600 in the state folder', async () => {
    const h = host(fleet.hosts[0] as FleetHost);
    const secret = 'K10-join-token-3f9a';
    const r = await h.exec(['sh', '-c', 'read t; echo "got $t"; echo "bad $t" >&2'], {
      input: `${secret}\n`,
      redact: [secret],
    });
    await h.close();
    expect(r.stdout).toBe(`got ${secret}\n`);
    const file = hostLogPath(state, 'h1');
    const log = readFileSync(file, 'utf8');
    expect(log).toContain('| got ***');
    expect(log).toContain('! bad ***');
    expect(log).not.toContain(secret);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // What a failed command's hint points at (kubeadm's errors among them).
    expect(h.logPath).toBe(file);
    const unlogged = new SshHost({
      name: 'h0',
      address: '127.0.0.1',
      username: 'root',
      privateKey: '',
      knownHostKeys: [],
    });
    expect(unlogged.logPath).toBeUndefined();
  });

  it('never runs more commands at once than the shared limit, across hosts and steps', async () => {
    const timeline = join(dir, 'timeline');
    writeFileSync(timeline, '');
    const limiter = new Limiter(2);
    const hosts = fleet.hosts.map((h) => host(h));
    const record = [
      'sh',
      '-c',
      `echo "start $(date +%s%N)" >> ${timeline}; sleep 0.3; echo "end $(date +%s%N)" >> ${timeline}`,
    ];
    // Two steps fanned out at once through the same limiter, as two phases' fan-outs would be.
    const [a, b] = await Promise.all([
      fanOut(hosts, (h) => h.exec(record), { step: 'one', limiter }),
      fanOut(hosts, (h) => h.exec(record), { step: 'two', limiter }),
    ]);
    await Promise.all(hosts.map((h) => h.close()));
    expect([...(a ?? []), ...(b ?? [])].every((o) => o.ok)).toBe(true);
    const events = readFileSync(timeline, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([kind, t]) => ({ delta: kind === 'start' ? 1 : -1, t: BigInt(t ?? '0') }))
      .sort((x, y) => (x.t === y.t ? x.delta - y.delta : x.t < y.t ? -1 : 1));
    expect(events).toHaveLength(2 * 2 * hosts.length);
    let now = 0;
    let max = 0;
    for (const e of events) max = Math.max(max, (now += e.delta));
    expect(max).toBeLessThanOrEqual(2);
    expect(max).toBe(2); // and it does fan out
  });

  it('skips an upload whose sha256 and mode already match, and replaces a changed one atomically', async () => {
    const h0 = fleet.hosts[1] as FleetHost;
    const h = host(h0);
    const local = join(dir, 'config.yaml');
    writeFileSync(local, 'cluster: one\n');
    const first = await h.upload('/srv/civostack/config.yaml', { file: local }, { mode: 0o640 });
    const onDisk = join(h0.srv, 'civostack/config.yaml');
    const before = statSync(onDisk);
    const again = await h.upload('/srv/civostack/config.yaml', 'cluster: one\n', { mode: 0o640 });
    const same = statSync(onDisk);
    const changed = await h.upload('/srv/civostack/config.yaml', 'cluster: two\n', { mode: 0o640 });
    const after = statSync(onDisk);
    await h.close();

    expect(first.status).toBe('written');
    expect(before.mode & 0o777).toBe(0o640);
    expect(again).toEqual({ ...first, status: 'skipped' });
    expect([same.ino, same.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect(changed.status).toBe('written');
    expect(after.ino).not.toBe(before.ino); // renamed over, not rewritten in place
    expect(readFileSync(onDisk, 'utf8')).toBe('cluster: two\n');
    expect(after.mode & 0o777).toBe(0o640);
  });

  it('keeps the expected sha256 off the command line and refuses bytes that do not match it', async () => {
    const h0 = fleet.hosts[1] as FleetHost;
    const h = host(h0);
    const secret = 'token: abcdef.0123456789abcdef\n';
    const sum = createHash('sha256').update(secret).digest('hex');
    const argvs: string[][] = [];
    let forge = false;
    const spy = {
      name: h.name,
      exec: (argv: readonly string[], o: ExecOptions = {}) => {
        argvs.push([...argv]);
        const pieces = o.input as readonly (string | Uint8Array)[] | undefined;
        // A transfer damaged on the way: the header as sent, other bytes after it.
        const input = forge && Array.isArray(pieces) ? [pieces[0] ?? '', 'token: forged\n'] : o.input;
        return h.exec(argv, { ...o, ...(input !== undefined && { input }) });
      },
    };
    const up = await uploadByExec(spy, '/srv/secrets/token', secret, { mode: 0o600 });
    forge = true;
    const forged = await uploadByExec(spy, '/srv/secrets/forged', secret, { mode: 0o600 }).catch(
      (e: unknown) => e,
    );
    await h.close();

    expect(up.status).toBe('written');
    expect(readFileSync(join(h0.srv, 'secrets/token'), 'utf8')).toBe(secret);
    expect(argvs.length).toBeGreaterThanOrEqual(4); // probe + write, twice
    expect(argvs.flat().join('\n')).not.toContain(sum);
    expect(forged).toBeInstanceOf(RemoteCommandError);
    expect((forged as Error).message).toContain('sha256 mismatch after transfer');
    expect(readdirSync(join(h0.srv, 'secrets'))).toEqual(['token']); // no forged file, no temp file
  });

  it('reports a host whose sshd is down by name, with its error, and finishes the others', async () => {
    const dead = fleet.hosts[2] as FleetHost;
    await fleet.stop(dead);
    try {
      const hosts = fleet.hosts.map((h) => host(h));
      const outcomes = await fanOut(hosts, (h) => h.exec(['hostname']), {
        step: 'probe',
        limiter: new Limiter(3),
      });
      await Promise.all(hosts.map((h) => h.close()));
      const failed = outcomes.filter((o) => !o.ok);
      expect(failed.map((o) => o.host)).toEqual([dead.name]);
      expect(outcomes.filter((o) => o.ok)).toHaveLength(fleet.hosts.length - 1);
      const message = (failed[0] as Extract<HostOutcome<unknown>, { ok: false }>).error.message;
      expect(message).toContain(`${dead.name} (${dead.address}:22)`);
      expect(message).toContain('ECONNREFUSED');
      expect(() => allOrThrow('probe', outcomes)).toThrow(
        /probe: 1 of 6 hosts failed\n {2}h3 \(10\.203\.200\.12:22\): connect ECONNREFUSED/,
      );
    } finally {
      await fleet.start(dead);
    }
  });

  it('refuses a host whose key changed, naming it and both fingerprints, and still serves the others', async () => {
    const victim = fleet.hosts[3] as FleetHost;
    const reported = victim.hostKey;
    const hosts = fleet.hosts.map((h) => host(h));
    await fleet.rekey(victim);
    const outcomes = await fanOut(hosts, (h) => h.exec(['true']), { step: 'probe', limiter: new Limiter(6) });
    await Promise.all(hosts.map((h) => h.close()));

    expect(outcomes.filter((o) => !o.ok).map((o) => o.host)).toEqual([victim.name]);
    const error = (outcomes[3] as Extract<HostOutcome<unknown>, { ok: false }>).error;
    expect(error).toBeInstanceOf(HostKeyChanged);
    expect(error.message).toContain(`${victim.name} (${victim.address}:22)`);
    expect(error.message).toContain(fingerprint(keyBlob(victim.hostKey) ?? ''));
    expect(error.message).toContain(fingerprint(keyBlob(reported) ?? ''));
    // Refused at once: a changed key is not a network blip to retry.
    expect(readFileSync(hostLogPath(state, victim.name), 'utf8')).not.toContain('retry');
  });

  it('gives a non-root login root through sudo for commands and uploads', async () => {
    const h0 = fleet.hosts[4] as FleetHost;
    mkdirSync(join(h0.srv, 'private'), { mode: 0o700 });
    const h = host(h0, { username: USER });
    const plain = await h.exec(['id', '-u']);
    const root = await h.exec(['id', '-u'], { sudo: true });
    const denied = await h.upload('/srv/private/token', 'secret', { mode: 0o600 }).catch((e: unknown) => e);
    const up = await h.upload('/srv/private/token', 'secret', { mode: 0o600, sudo: true });
    await h.close();

    expect(plain.stdout.trim()).toBe('4203');
    expect(root.stdout.trim()).toBe('0');
    expect(denied).toBeInstanceOf(RemoteCommandError);
    expect((denied as Error).message).toMatch(/^h5: /);
    expect(up.status).toBe('written');
    const st = statSync(join(h0.srv, 'private/token'));
    expect([st.uid, st.mode & 0o777]).toEqual([0, 0o600]);
  });

  it('lets a node pull a large artifact over HTTP, checked by sha256, and skips it when present', async () => {
    const h0 = fleet.hosts[5] as FleetHost;
    const blob = Buffer.alloc(3 << 20, 7);
    const server = createServer((_req, res) => res.end(blob));
    await new Promise<void>((r) => server.listen(0, '10.203.200.1', r));
    const url = `http://10.203.200.1:${(server.address() as AddressInfo).port}/blob`;
    const sum = createHash('sha256').update(blob).digest('hex');
    const h = host(h0);
    try {
      const wrong = await pull(h, '/srv/art/other', {
        url,
        sha256: '0'.repeat(64),
        bytes: blob.length,
      }).catch((e: unknown) => e);
      const first = await pull(h, '/srv/art/blob', { url, sha256: sum, bytes: blob.length });
      const before = statSync(join(h0.srv, 'art/blob'));
      const again = await pull(h, '/srv/art/blob', { url, sha256: sum, bytes: blob.length });
      const after = statSync(join(h0.srv, 'art/blob'));
      expect(wrong).toBeInstanceOf(RemoteCommandError);
      expect((wrong as Error).message).toContain('sha256 mismatch');
      expect(() => statSync(join(h0.srv, 'art/other'))).toThrow(); // nothing half-written left behind
      expect([first.status, again.status]).toEqual(['written', 'skipped']);
      expect(readFileSync(join(h0.srv, 'art/blob')).equals(blob)).toBe(true);
      expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    } finally {
      await h.close();
      server.close();
    }
  });

  it('runs the same steps on this machine inside a namespace (LocalHost)', async () => {
    const h0 = fleet.hosts[5] as FleetHost;
    const local = new LocalHost({ name: 'ns', namespace: h0.namespace });
    const r = await local.exec(['ip', '-br', '-4', 'addr', 'show', 'dev', 'eth0']);
    const up = await local.upload(join(dir, 'local', 'file'), 'x\n', { mode: 0o600 });
    const again = await local.upload(join(dir, 'local', 'file'), 'x\n', { mode: 0o600 });
    expect(r.stdout).toContain(`${h0.address}/24`);
    expect([up.status, again.status]).toEqual(['written', 'skipped']);
  });
});
