// The proof of the boot and OS phases: the lab region's nodes, each a QEMU machine (software
// emulation when KVM does not work), go from power-on through DHCP, iPXE (one of them by UEFI
// firmware PXE → TFTP ipxe.efi), the installer and a reboot from disk to an SSH login whose host
// key is the one the installer reported. The boot server is killed once mid-install: the lab
// restarts it and no finished node is installed again. Everything is removed afterwards.
import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNodeHistory } from '../../src/boot/index.js';
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
    'boots, installs and reaches every node by SSH with the reported host key, surviving a boot server restart',
    async () => {
      const up = execa(
        'node',
        [join(REPO, 'bin/civostack'), 'lab', 'up', manifest, '--state-dir', state, '--timeout', '35'],
        {
          reject: false,
          env: { NO_COLOR: '1' },
          all: true,
        },
      );
      let log = '';
      up.all?.on('data', (d: Buffer) => (log += d.toString()));

      // Kill the boot server once, as soon as a node is installing: the lab must restart it.
      let killed: number | undefined;
      const watcher = setInterval(() => {
        if (killed !== undefined || !readNodeHistory({ path: state }).some((t) => t.to === 'installing'))
          return;
        const pid = Number(readFileSync(join(state, 'lab/boot-server.pid'), 'utf8'));
        process.kill(pid, 'SIGKILL');
        killed = pid;
      }, 500);
      const result = await up;
      clearInterval(watcher);
      expect(result.exitCode, log).toBe(0);
      // lab up ends with each node's seconds from power-on to every state: the per-phase wall times.
      console.log(`lab up timeline:\n${log.slice(log.lastIndexOf('NODE'))}`);

      const status = await cli(['region', 'status', manifest, '--output', 'json']);
      const rows = JSON.parse(status.stdout) as NodeRow[];
      expect(rows.map((r) => r.state)).toEqual(['ssh-ready', 'ssh-ready', 'ssh-ready']);

      // The kill happened mid-install and the lab started the boot server again.
      expect(killed).toBeDefined();
      expect(log).toContain('boot server is not running: starting it again');
      // Every node's full state history: installed exactly once, never installing again after that.
      const history = readNodeHistory({ path: state });
      for (const node of ['r01-n01', 'r01-n02', 'r01-n03']) {
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

      // lab up again is idempotent: no machine restarted, no node state changed.
      const pids = () =>
        ['r01-n01', 'r01-n02', 'r01-n03'].map((n) => readFileSync(join(state, `lab/vms/${n}.pid`), 'utf8'));
      const before = { pids: pids(), history: readNodeHistory({ path: state }).length, nodes: states() };
      const again = await cli(['lab', 'up', manifest], 300_000);
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
