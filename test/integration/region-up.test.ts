// region up as an SRE runs it before touching a rack: the built CLI, no terminal, a real state folder.
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { civostack } from '../helpers/cli.js';
import { hashTree } from '../helpers/hash.js';
import { NYC1, REPO, tempDir } from '../helpers/manifest.js';

const PHASES = [
  'Validate, plan and render',
  'Boot service (HTTP boot server and dnsmasq)',
  'Power on every node not installed yet (boot-next PXE)',
  'Wait until every node is installed',
  'Boot-next disk on every installed node',
  'SSH with the pinned host key on every installed node',
  'Record the applied render of each device',
  'Every node is SSH-ready',
];

describe('civostack region up --dry-run', () => {
  it("prints every phase's actions per host and device, with the config diff, and writes nothing", async () => {
    const state = join(tempDir('civostack-up-'), 'state');
    const r = await civostack(['region', 'up', NYC1, '--dry-run', '--state-dir', state]);
    expect(r.exitCode, r.stderr).toBe(0);
    for (const title of PHASES) expect(r.stdout).toContain(`==> ${title}`);
    expect(r.stdout).toMatch(/ r01-tor1: 3 file\(s\) would change \(\+\d+ -0\)/);
    expect(r.stdout).toContain('--- a/switches/r01-tor1/frr.conf (new)');
    expect(r.stdout).toContain('+++ b/switches/r01-tor1/frr.conf');
    expect(r.stdout).toMatch(/neighbor \S+ password \(would be generated\)/);
    expect(r.stdout).toContain('state: secret k3s/token: (would be generated)');
    expect(r.stdout).toContain(
      'r01-n01: no BMC credentials: power it on by hand; it boots from the network on NIC 0c:42:a1:30:01:10',
    );
    expect(r.stdout).toMatch(
      /r01-n40: wait for DHCP, iPXE and the installer to report installed \(timeout 30 min\)/,
    );
    // civostack's own SSH key does not exist yet: its place in every seed says so; no private key shows.
    expect(r.stdout).toContain('+  - (would be generated)');
    expect(r.stdout).not.toMatch(/PRIVATE KEY|civostack@nyc1/);
    expect(r.stdout).toContain('dry run: nothing was changed, nothing was written');
    expect(existsSync(state)).toBe(false);
  });

  it('changes nothing in an existing state folder, and neither does region diff', async () => {
    const dir = tempDir('civostack-up-');
    const state = join(dir, 'state');
    const render = await civostack([
      'region',
      'render',
      NYC1,
      '--out',
      join(dir, 'out'),
      '--state-dir',
      state,
    ]);
    expect(render.exitCode, render.stderr).toBe(0);
    const before = hashTree(state);
    const r = await civostack(['region', 'up', NYC1, '--dry-run', '--state-dir', state, '--output', 'json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { code: string; phase?: string; outcome?: string });
    expect(events.filter((e) => e.code === 'phase.end').map((e) => e.phase)).toEqual([
      'prepare',
      'boot-service',
      'power',
      'wait-installed',
      'boot-disk',
      'ssh-ready',
      'fabric',
      'kubernetes-stage',
      'kubernetes-init',
      'kubernetes-join-control-plane',
      'kubernetes-join-workers',
      'kubernetes-ready',
      'operator',
      'record-applied',
      'verify',
    ]);
    // Allocations and secrets are recorded: nothing new to write, so no state line.
    expect(r.stdout).not.toContain('would be generated');
    expect((await civostack(['region', 'diff', NYC1, '--state-dir', state])).exitCode).toBe(2);
    expect(hashTree(state)).toBe(before);
  });

  it('stops after the --until phase, and refuses a range that ends before it starts', async () => {
    const state = tempDir();
    const r = await civostack([
      'region',
      'up',
      NYC1,
      '--dry-run',
      '--until',
      'ssh-ready',
      '--state-dir',
      state,
      '--output',
      'json',
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    const ended = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { code: string; phase?: string })
      .filter((e) => e.code === 'phase.end')
      .map((e) => e.phase);
    expect(ended).toEqual(['prepare', 'boot-service', 'power', 'wait-installed', 'boot-disk', 'ssh-ready']);
    const backwards = await civostack([
      'region',
      'up',
      NYC1,
      '--dry-run',
      '--from',
      'fabric',
      '--until',
      'power',
      '--state-dir',
      state,
    ]);
    expect(backwards.exitCode).toBe(64);
    expect(backwards.stderr).toContain('--until power comes before --from fabric');
  });

  it('names the phases for an unknown --only', async () => {
    const r = await civostack([
      'region',
      'up',
      NYC1,
      '--dry-run',
      '--only',
      'fabirc',
      '--state-dir',
      tempDir(),
    ]);
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toContain('--only fabirc: no such phase');
    expect(r.stderr).toContain(
      'phases: prepare, boot-service, power, wait-installed, boot-disk, ssh-ready, fabric',
    );
  });
});

describe('civostack region up without a terminal', () => {
  it('refuses to act without --yes, before touching anything', async () => {
    const state = join(tempDir('civostack-up-'), 'state');
    const r = await civostack(['region', 'up', NYC1, '--state-dir', state]);
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toContain('region up acts on machines and nothing here can confirm it (no terminal)');
    expect(r.stderr).toContain('pass --yes');
    expect(existsSync(state)).toBe(false);
  });
});

describe('civostack region up, interrupted', () => {
  /** Starts region up waiting for nodes that nobody powers, and resolves once it is waiting. */
  async function waiting(state: string) {
    const child = execa(
      'node',
      [
        join(REPO, 'bin/civostack'),
        'region',
        'up',
        NYC1,
        '--yes',
        '--only',
        'wait-installed',
        '--state-dir',
        state,
      ],
      { reject: false, env: { NO_COLOR: '1' } },
    );
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('==> Wait until every node is installed')) resolve();
      });
      void child.then(() => reject(new Error(`region up ended early:\n${out}`)));
    });
    // Wrapped: an async function returning the subprocess (a thenable) would wait for its end.
    return { child };
  }

  it('stops cleanly on SIGINT: exit 130, the lock released, the journal says cancelled', async () => {
    const state = join(tempDir('civostack-up-'), 'state');
    const { child } = await waiting(state);
    expect(existsSync(join(state, 'lock'))).toBe(true);
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(130);
    expect(String(r.stdout)).toContain('SIGINT: stopping after the actions under way');
    expect(existsSync(join(state, 'lock'))).toBe(false);
    const status = await civostack(['region', 'status', NYC1, '--state-dir', state]);
    expect(status.stdout).toContain('wait-installed: cancelled');
  }, 120_000);

  it('after SIGKILL, the next run takes the stale lock over, saying so', async () => {
    const state = join(tempDir('civostack-up-'), 'state');
    const { child } = await waiting(state);
    child.kill('SIGKILL');
    await child;
    expect(existsSync(join(state, 'lock'))).toBe(true);
    const status = await civostack(['region', 'status', NYC1, '--state-dir', state]);
    expect(status.stdout).toMatch(/interrupted \(pid \d+ is gone\)/);
    const again = await civostack([
      'region',
      'up',
      NYC1,
      '--yes',
      '--only',
      'record-applied',
      '--state-dir',
      state,
    ]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(
      /warning: taking over the lock of .*'s run \(pid \d+ on .*\): that process is gone/,
    );
    expect(existsSync(join(state, 'lock'))).toBe(false);
  }, 120_000);
});
