// The proof of `region up --lab`: the lab region's nodes, each a QEMU machine (software emulation
// when KVM does not work) powered only through its BMC emulator (ipmi_sim or sushy-tools), go from
// power-on through DHCP, iPXE (one of them by UEFI firmware PXE → TFTP ipxe.efi), the installer and
// a reboot from disk to an SSH login whose host key is the one the installer reported. The boot
// server is killed once mid-install (region up restarts it), then region up itself is SIGKILLed;
// the next run takes its lock over and converges with no node installed twice. Everything is
// removed afterwards.
import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNodeHistory } from '../../src/boot/index.js';
import { readAudit } from '../../src/lab/index.js';
import { REPO, labWith, tempDir } from '../helpers/manifest.js';

const region = `labt${process.pid % 1000}`;
const manifest = labWith((m) => {
  m.region.name = region;
});
const state = join(tempDir('civostack-lab-'), 'state');
const cli = (args: string[], timeout = 60_000) =>
  execa('node', [join(REPO, 'bin/civostack'), ...args, '--state-dir', state], {
    reject: false,
    env: { NO_COLOR: '1' },
    timeout,
  });
const regionUp = () => {
  const run = execa(
    'node',
    [
      join(REPO, 'bin/civostack'),
      'region',
      'up',
      manifest,
      '--lab',
      '--yes',
      '--state-dir',
      state,
      '--timeout',
      '35',
    ],
    { reject: false, env: { NO_COLOR: '1' }, all: true },
  );
  const out = { log: '' };
  run.all?.on('data', (d: Buffer) => (out.log += d.toString()));
  return { run, out };
};
const NODES = { 'r01-n01': 'redfish', 'r01-n02': 'ipmi', 'r01-n03': 'ipmi' } as const;

interface NodeRow {
  node: string;
  state: string;
  percent?: number;
}

function states(): Record<string, { state: string; hostKeys?: string[]; percent?: number }> {
  try {
    return (
      JSON.parse(readFileSync(join(state, 'nodes.json'), 'utf8')) as {
        nodes: Record<string, { state: string }>;
      }
    ).nodes;
  } catch {
    return {};
  }
}

describe('lab: power-on to SSH', () => {
  afterAll(async () => {
    await cli(['lab', 'down', manifest], 120_000);
  });

  it(
    'powers every node through its BMC, installs it and reaches it by SSH with the reported host key, surviving a killed boot server and a killed region up',
    async () => {
      // First run: the boot server is SIGKILLed as soon as a node is installing (region up must
      // start it again), then region up itself is SIGKILLed while the nodes install.
      const first = regionUp();
      let bootKilled: number | undefined;
      let upKilled = false;
      const watcher = setInterval(() => {
        if (bootKilled === undefined) {
          if (!readNodeHistory({ path: state }).some((t) => t.to === 'installing')) return;
          bootKilled = Number(readFileSync(join(state, 'lab/boot-server.pid'), 'utf8'));
          process.kill(bootKilled, 'SIGKILL');
        } else if (!upKilled && first.out.log.includes('boot server is not running: starting it again')) {
          first.run.kill('SIGKILL');
          upKilled = true;
        }
      }, 500);
      const killedRun = await first.run;
      clearInterval(watcher);
      expect(bootKilled, first.out.log).toBeDefined();
      expect(upKilled, first.out.log).toBe(true);
      expect(killedRun.signal).toBe('SIGKILL');

      // Second run: takes the dead run's lock over and converges.
      const second = regionUp();
      const result = await second.run;
      const log = second.out.log;
      expect(result.exitCode, log).toBe(0);
      expect(log).toContain('taking over the lock');
      // region up ends with each node's seconds to every state: the per-phase wall times.
      console.log(`region up --lab (after a SIGKILL) timeline:\n${log.slice(log.lastIndexOf('NODE'))}`);

      const status = await cli(['region', 'status', manifest, '--output', 'json']);
      const rows = JSON.parse(status.stdout) as NodeRow[];
      expect(rows.map((r) => r.state)).toEqual(['ssh-ready', 'ssh-ready', 'ssh-ready']);

      // Every node's full state history: installed exactly once, never installing again after that.
      const history = readNodeHistory({ path: state });
      for (const node of Object.keys(NODES)) {
        const path = history.filter((t) => t.node === node).map((t) => t.to);
        expect(
          path.filter((s) => s === 'installing'),
          `${node}: ${path.join(' → ')}`,
        ).toHaveLength(1);
        expect(
          path.filter((s) => s === 'installed'),
          `${node}: ${path.join(' → ')}`,
        ).toHaveLength(1);
        expect(path.at(-1)).toBe('ssh-ready');
      }

      // Every machine was powered on by its BMC, over its own protocol; nothing else started one.
      const audit = readAudit({ path: state });
      for (const [node, protocol] of Object.entries(NODES)) {
        const starts = audit.filter((e) => e.node === node && /^(started|restarted)/.test(e.result));
        expect(starts.length, JSON.stringify(audit)).toBeGreaterThan(0);
        for (const e of starts) expect(e.via).toBe(protocol);
      }
      expect(audit.filter((e) => e.via === 'cli')).toEqual([]);

      // The UEFI node came through firmware PXE: dnsmasq sent it ipxe.efi by TFTP.
      const bootLog = readFileSync(join(state, 'lab/boot-server.log'), 'utf8');
      expect(bootLog).toMatch(/tftp: sent \S*ipxe\.efi to 10\.100\.0\.10/);

      // OpenSSH itself, with only the reported host key known: the login works, and a wrong key fails.
      const nodes = states();
      const key = join(state, 'secrets/ssh/civostack_ed25519');
      for (const [name, address] of [
        ['r01-n01', '10.100.0.10'],
        ['r01-n02', '10.100.0.11'],
        ['r01-n03', '10.100.0.12'],
      ] as const) {
        const known = join(state, `known_hosts.${name}`);
        writeFileSync(known, (nodes[name]!.hostKeys ?? []).map((k) => `${address} ${k}`).join('\n'));
        const ssh = (knownHosts: string) =>
          execa(
            'ssh',
            [
              '-i',
              key,
              '-o',
              `UserKnownHostsFile=${knownHosts}`,
              '-o',
              'StrictHostKeyChecking=yes',
              '-o',
              'BatchMode=yes',
              '-o',
              'ConnectTimeout=10',
              `root@${address}`,
              'hostname; findmnt -bno SIZE /',
            ],
            { reject: false },
          );
        const ok = await ssh(known);
        expect(ok.exitCode, String(ok.stderr)).toBe(0);
        const [hostname, rootBytes] = String(ok.stdout).trim().split('\n');
        expect(hostname).toBe(name);
        // The 1 GiB image's root was grown to the node's 10 GiB disk on first boot.
        expect(Number(rootBytes)).toBeGreaterThan(8 * 1024 ** 3);
        const wrong = join(state, `known_hosts.wrong.${name}`);
        writeFileSync(
          wrong,
          `${address} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdyb25nLWtleS1mb3ItYS1ob3N0LWtleS1jaGVjaw\n`,
        );
        const refused = await ssh(wrong);
        expect(refused.exitCode).not.toBe(0);
        expect(String(refused.stderr)).toMatch(/host key|HOST IDENTIFICATION/i);
      }

      // region up again is idempotent: no machine restarted, no node state changed.
      const pids = () =>
        ['r01-n01', 'r01-n02', 'r01-n03'].map((n) => readFileSync(join(state, `lab/vms/${n}.pid`), 'utf8'));
      const before = { pids: pids(), history: readNodeHistory({ path: state }).length, nodes: states() };
      const again = await cli(['region', 'up', manifest, '--lab', '--yes'], 300_000);
      expect(again.exitCode, again.stdout + again.stderr).toBe(0);
      expect(pids()).toEqual(before.pids);
      expect(readNodeHistory({ path: state })).toHaveLength(before.history);
      expect(Object.fromEntries(Object.entries(states()).map(([n, s]) => [n, s.state]))).toEqual(
        Object.fromEntries(Object.entries(before.nodes).map(([n, s]) => [n, s.state])),
      );

      // lab down leaves no namespace, machine, link or file.
      const down = await cli(['lab', 'down', manifest], 120_000);
      expect(down.exitCode, down.stdout + down.stderr).toBe(0);
      expect(String((await execa('ip', ['netns', 'list'])).stdout)).not.toContain(`civo-${region}`);
      expect(String((await execa('pgrep', ['-af', 'qemu-system'], { reject: false })).stdout)).not.toContain(
        state,
      );
      expect(existsSync(join(state, 'lab'))).toBe(false);
      expect(String((await execa('ip', ['-o', 'link'])).stdout)).not.toMatch(/civo-h-/);
    },
    40 * 60_000,
  );
});
