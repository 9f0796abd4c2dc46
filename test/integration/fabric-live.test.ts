// Live diff and apply against real switches: the lab region's fabric in FRR namespaces, each with
// its own sshd on its management address and a pinned host key, reached through the remote layer
// as a rack's switches are. An unchanged fabric diffs empty; a manifest change shows exactly on the
// devices it touches; the fabric phase pushes it through frr-reload.py without any BGP session
// flapping; the diff is empty again; a wrong pinned key is refused. Needs root, FRR (with
// frr-pythontools), openssh-server and iputils-ping.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fabricDown } from '../../src/lab/fabric/index.js';
import { civostack } from '../helpers/cli.js';
import { LAB, tempDir } from '../helpers/manifest.js';

const ready =
  process.getuid?.() === 0 &&
  existsSync('/usr/lib/frr/bgpd') &&
  existsSync('/usr/lib/frr/frr-reload.py') &&
  existsSync('/usr/sbin/sshd') &&
  existsSync('/usr/bin/ping');
const REGION = 'lab1';
const ROUTED = ['br1', 'br2', 'r01-tor1', 'r01-tor2'];

interface DiffJson {
  changed: boolean;
  changes: { device: string; path: string; added: number; removed: number; patch: string }[];
  devices: { device: string; platform: string }[];
  errors: { device: string; message: string }[];
  skipped: { device: string; reason: string }[];
}

/** Every BGP session of every lab switch: when it came up and how often it went down. */
async function sessions(): Promise<Map<string, { up: number; established: number; dropped: number }>> {
  const out = new Map<string, { up: number; established: number; dropped: number }>();
  for (const d of ROUTED) {
    const r = await execa('vtysh', [
      '--vty_socket',
      `/run/cvfb/${REGION}/${d}`,
      '-c',
      'show bgp neighbors json',
    ]);
    const peers = JSON.parse(r.stdout) as Record<
      string,
      { bgpTimerUpEstablishedEpoch?: number; connectionsEstablished?: number; connectionsDropped?: number }
    >;
    for (const [peer, p] of Object.entries(peers))
      out.set(`${d} → ${peer}`, {
        up: p.bgpTimerUpEstablishedEpoch ?? 0,
        established: p.connectionsEstablished ?? 0,
        dropped: p.connectionsDropped ?? 0,
      });
  }
  return out;
}

async function mgmtLinksLeft(): Promise<string[]> {
  const r = await execa('ip', ['-j', 'link', 'show']);
  return (JSON.parse(r.stdout) as { ifname: string; ifalias?: string }[])
    .filter((l) => l.ifalias?.startsWith(`cvfb-${REGION}-`))
    .map((l) => l.ifname);
}

async function namespacesLeft(): Promise<string[]> {
  const r = await execa('ip', ['netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`cvfb-${REGION}-`));
}

describe.runIf(ready)('live diff and apply on the fabric lab (sshd per switch, frr-reload.py)', () => {
  const dir = tempDir('civostack-fabric-live-');
  const state = join(dir, 'state');
  const manifest = join(dir, 'lab.yaml');
  // One more public aggregate: the border routers' prefix-lists, static routes and networks change; the ToRs' do not.
  const changed = join(dir, 'lab-more-public.yaml');
  /** `region up --lab --only fabric` on the changed manifest. */
  const fabricPhase = (...flags: string[]) =>
    civostack(['region', 'up', changed, '--lab', '--only', 'fabric', '--state-dir', state, ...flags]);
  const diff = async (m: string) => {
    const r = await civostack(['region', 'diff', m, '--live', '--state-dir', state, '--output', 'json']);
    return { ...r, json: JSON.parse(r.stdout) as DiffJson };
  };

  beforeAll(async () => {
    await fabricDown(REGION);
    const text = readFileSync(LAB, 'utf8');
    writeFileSync(manifest, text);
    writeFileSync(changed, text.replace('public: [172.31.0.0/24]', 'public: [172.31.0.0/24, 172.31.8.0/24]'));
    const started = Date.now();
    const up = await civostack([
      'lab',
      'fabric',
      manifest,
      '--keep',
      '--state-dir',
      state,
      '--output',
      'json',
    ]);
    expect(up.exitCode, up.stderr).toBe(0);
    const report = JSON.parse(up.stdout) as {
      ssh: { device: string; address: string }[];
      sessionsUpMs: number;
    };
    expect(report.ssh.map((s) => s.device).sort()).toEqual(ROUTED);
    console.log(
      `fabric lab with sshd up in ${((Date.now() - started) / 1000).toFixed(1)} s (sessions ${(report.sessionsUpMs / 1000).toFixed(1)} s)`,
    );
  }, 300_000);

  afterAll(async () => {
    await fabricDown(REGION);
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows no difference on a fabric running its render, in text and JSON', async () => {
    const text = await civostack(['region', 'diff', manifest, '--live', '--state-dir', state]);
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout.trim()).toBe('No changes: every device is as rendered.');
    // No SONiC in the lab: frr.conf only, and said so. The management switch has no lab namespace.
    expect(text.stderr).toMatch(/br1 runs FRR without SONiC/);
    expect(text.stderr).toMatch(/r01-mgmt not compared: no pinned SSH host key/);
    const { exitCode, json } = await diff(manifest);
    expect(exitCode).toBe(0);
    expect(json.changed).toBe(false);
    expect(json.devices.map((d) => [d.device, d.platform]).sort()).toEqual(ROUTED.map((d) => [d, 'frr']));
    expect(json.errors).toEqual([]);
  }, 60_000);

  it('shows a manifest change exactly, on exactly the devices it changes, and a dry run touches nothing', async () => {
    const { exitCode, json, stdout } = await diff(changed);
    expect(exitCode).toBe(2);
    expect(json.changes.map((c) => [c.device, c.path, c.added, c.removed])).toEqual([
      ['br1', 'switches/br1/frr.conf', 4, 0],
      ['br2', 'switches/br2/frr.conf', 4, 0],
    ]);
    const added = json.changes[0]!.patch.split('\n').filter((l) => l.startsWith('+'));
    expect(added).toEqual([
      '+ip prefix-list PL-AGGREGATES seq 10 permit 172.31.8.0/24',
      '+ip prefix-list PL-OWN seq 10 permit 172.31.8.0/24 le 32',
      '+ip route 172.31.8.0/24 blackhole',
      '+  network 172.31.8.0/24',
    ]);
    // The transit passwords are in the running config; never in the diff.
    const secrets = join(state, 'secrets');
    for (const f of execFileSync('find', [secrets, '-name', '*transit*', '-type', 'f'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean))
      expect(stdout).not.toContain(readFileSync(f, 'utf8').trim());

    const dry = await fabricPhase('--dry-run', '--output', 'json');
    expect(dry.exitCode, dry.stderr).toBe(0);
    const planned = dry.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { code: string; target?: string; text?: string; diff?: string })
      .filter((e) => e.code === 'action.planned');
    expect(planned.map((e) => e.target)).toEqual(['br1', 'br2']);
    expect(planned[0]!.text).toMatch(/frr-reload\.py --reload/);
    expect(planned[0]!.diff).toContain('+ip route 172.31.8.0/24 blackhole');
    expect((await diff(changed)).exitCode).toBe(2);
  }, 120_000);

  it('pushes the change with frr-reload.py: no BGP session flaps, and the diff is empty again', async () => {
    const before = await sessions();
    expect(before.size).toBe(10); // each border: 2 ToRs and its transit; each ToR: 2 borders
    const t0 = Date.now();
    const up = await fabricPhase('--yes');
    expect(up.exitCode, `${up.stdout}\n${up.stderr}`).toBe(0);
    expect(up.stdout).toMatch(/br1 runs its render/);
    expect(up.stdout).toMatch(/br2 runs its render/);
    const pushMs = Date.now() - t0;

    const after = await sessions();
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [s, b] of before) {
      const a = after.get(s)!;
      // Established once, never dropped, same start (FRR derives the epoch from uptime: ±1 s).
      expect({ s, established: a.established, dropped: a.dropped }).toEqual({
        s,
        established: b.established,
        dropped: b.dropped,
      });
      expect(Math.abs(a.up - b.up), s).toBeLessThanOrEqual(2);
    }
    // The new aggregate reaches the transit providers: the reload took effect, not just the file.
    const exported = await execa('vtysh', [
      '--vty_socket',
      `/run/cvfb/${REGION}/transit-br1-transit-a`,
      '-c',
      'show bgp ipv4 unicast neighbors 172.30.0.1 routes json',
    ]);
    expect(Object.keys((JSON.parse(exported.stdout) as { routes: object }).routes).sort()).toEqual([
      '172.31.0.0/24',
      '172.31.8.0/24',
    ]);

    const again = await diff(changed);
    expect(again.exitCode, JSON.stringify(again.json.changes)).toBe(0);
    // Run again: nothing to push.
    const idle = await fabricPhase('--yes');
    expect(idle.exitCode, idle.stderr).toBe(0);
    expect(idle.stdout).toMatch(/every switch runs its render/);
    console.log(
      `fabric phase: pushed br1 and br2 in ${(pushMs / 1000).toFixed(1)} s, ${before.size} sessions kept`,
    );
  }, 180_000);

  it('refuses a switch presenting another host key than the pinned one, by name, and reads the others', async () => {
    const pinned = join(state, 'host-keys', 'r01-tor1.pub');
    const real = readFileSync(pinned, 'utf8');
    const other = join(dir, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'impostor', '-f', other]);
    writeFileSync(pinned, readFileSync(`${other}.pub`));
    try {
      const { exitCode, json, stderr } = await diff(changed);
      expect(exitCode, stderr).toBe(1);
      expect(json.errors.map((e) => e.device)).toEqual(['r01-tor1']);
      expect(json.errors[0]!.message).toMatch(
        /^r01-tor1 \(10\.99\.0\.\d+:22\) presented host key SHA256:\S+ \(ssh-ed25519\), not the one pinned for it \(SHA256:\S+ from .*r01-tor1\.pub\): refusing to connect$/,
      );
      expect(json.devices.map((d) => d.device).sort()).toEqual(['br1', 'br2', 'r01-tor2']);
      const text = await civostack(['region', 'diff', changed, '--live', '--state-dir', state]);
      expect(text.exitCode).toBe(1);
      expect(text.stderr).toMatch(/error: r01-tor1 \(.*\) presented host key .* refusing to connect/);
    } finally {
      writeFileSync(pinned, real);
    }
  }, 60_000);

  it('lab fabric down removes every namespace, sshd, FRR and management link, also those a killed run left', async () => {
    // What a run killed between creating a management link and moving its end leaves on this host.
    await execa('ip', ['link', 'add', 'cvfbmdeadbeef', 'type', 'veth', 'peer', 'name', 'cvfbmdeadbee2']);
    await execa('ip', ['link', 'set', 'dev', 'cvfbmdeadbeef', 'alias', `cvfb-${REGION}-r01-tor1`]);
    expect((await mgmtLinksLeft()).length).toBe(5);
    const down = await civostack(['lab', 'fabric', 'down', manifest, '--state-dir', state]);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(await namespacesLeft()).toEqual([]);
    expect(await mgmtLinksLeft()).toEqual([]);
    expect((await execa('pgrep', ['-f', `/run/cvfb/${REGION}/`], { reject: false })).stdout).toBe('');
    expect(existsSync(`/run/cvfb/${REGION}`)).toBe(false);
    // The host keys stay in the state folder: the next lab presents the same ones.
    expect(existsSync(join(state, 'lab', 'fabric', 'br1', 'ssh_host_ed25519_key'))).toBe(true);
  }, 60_000);
});
