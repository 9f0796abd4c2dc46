/* eslint-disable @typescript-eslint/no-explicit-any -- kubectl JSON and kubeadm YAML, read field by field as a person would */
// The proof of `region up --lab`: the lab region's nodes, each a QEMU machine (software emulation
// when KVM does not work) powered only through its BMC emulator (ipmi_sim or sushy-tools), go from
// power-on through DHCP, iPXE (one of them by UEFI firmware PXE → TFTP ipxe.efi), the installer and
// a reboot from disk to an SSH login whose host key is the one the installer reported. The boot
// server is killed once mid-install (region up restarts it), then region up itself is SIGKILLed;
// the next run takes its lock over and converges with no node installed twice. Everything is
// removed afterwards.
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNodeHistory } from '../../src/boot/index.js';
import { readAudit } from '../../src/lab/index.js';
import { ensureKubeArtifacts } from '../../src/kube/artifacts.js';
import { REPO, labWith, tempDir } from '../helpers/manifest.js';

const region = `labt${process.pid % 1000}`;
// The lab region less its second worker: one control plane (Redfish BMC, UEFI) and one worker
// (IPMI BMC, BIOS) cover both BMC protocols, both firmwares, init and join; a third emulated
// machine on two host cores only makes the others starve (kubeadm's CRI deadline missed, a
// control plane that takes 15 min to answer).
const manifest = labWith((m) => {
  m.region.name = region;
  m.racks[0].nodes = m.racks[0].nodes.filter((n: { name: string }) => n.name !== 'r01-n03');
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
const NODES = { 'r01-n01': 'redfish', 'r01-n02': 'ipmi' } as const;
const ADDRESSES = [
  ['r01-n01', '10.100.0.10'],
  ['r01-n02', '10.100.0.11'],
] as const;

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

describe('lab: power-on to a Kubernetes cluster with the operator Ready', () => {
  afterAll(async () => {
    await cli(['lab', 'down', manifest], 120_000);
  });

  it(
    'powers every node through its BMC, installs it and reaches it by SSH with the reported host key, surviving a killed boot server and a killed region up',
    async () => {
      // First run: the boot server is SIGKILLed as soon as a node is installing and every node has
      // reached iPXE (so the log of the UEFI node's TFTP, asserted below, was written by the killed
      // server; a SIGKILL loses what dnsmasq had not handed over yet); region up must start it
      // again. Then region up itself is SIGKILLed while the nodes install.
      const first = regionUp();
      let bootKilled: number | undefined;
      let upKilled = false;
      const watcher = setInterval(() => {
        if (bootKilled === undefined) {
          const history = readNodeHistory({ path: state });
          if (!history.some((t) => t.to === 'installing')) return;
          if (!Object.keys(NODES).every((n) => history.some((t) => t.node === n && t.to === 'ipxe'))) return;
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
      // The lab's switches: the fabric lab started and checked, then read over SSH by the fabric phase.
      expect(log).toMatch(/fabric lab: every BGP session up in [\d.]+ s, every check passes/);
      const compared = /Switch configurations[^\n]*: skipped \(every switch runs its render \(([^)]*)\)/.exec(
        log,
      );
      expect(compared?.[1]?.split(', ').sort(), log).toEqual(['br1', 'br2', 'r01-tor1', 'r01-tor2']);
      // region up ends with each node's seconds to every state: the per-phase wall times.
      console.log(`region up --lab (after a SIGKILL) timeline:\n${log.slice(log.lastIndexOf('NODE'))}`);

      const status = await cli(['region', 'status', manifest, '--output', 'json']);
      const rows = JSON.parse(status.stdout) as NodeRow[];
      expect(rows.map((r) => r.state)).toEqual(Object.keys(NODES).map(() => 'ssh-ready'));

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
      for (const [name, address] of ADDRESSES) {
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
              'hostname; findmnt -bno SIZE /; cat /etc/timezone; cloud-init status; ' +
                `echo "logins:$(awk -F: '$3 >= 1000 && $3 < 65534 { printf " %s", $1 }' /etc/passwd)"`,
            ],
            { reject: false },
          );
        const ok = await ssh(known);
        expect(ok.exitCode, String(ok.stderr)).toBe(0);
        const [hostname, rootBytes, timezone, status, logins] = String(ok.stdout).trim().split('\n');
        expect(hostname).toBe(name);
        // The image's 1.5 GiB root was grown to the node's 10 GiB disk on first boot.
        expect(Number(rootBytes)).toBeGreaterThan(8 * 1024 ** 3);
        // The seed's timezone module ran (debootstrap writes Etc/UTC; cloud-init writes the seed's
        // UTC) though the image has no config stage, and cloud-init counts its first boot as done.
        expect(timezone).toBe('UTC');
        expect(status).toBe('status: done');
        // No distribution default user (the seed's users list holds root alone): root, over the
        // manifest's keys, is the only way in.
        expect(logins).toBe('logins:');
        const wrong = join(state, `known_hosts.wrong.${name}`);
        writeFileSync(
          wrong,
          `${address} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdyb25nLWtleS1mb3ItYS1ob3N0LWtleS1jaGVjaw\n`,
        );
        const refused = await ssh(wrong);
        expect(refused.exitCode).not.toBe(0);
        expect(String(refused.stderr)).toMatch(/host key|HOST IDENTIFICATION/i);
      }

      // Kubernetes: every node Ready through the written kubeconfig (the API VIP), labelled by the
      // operator from the manifest, the operator running and the Region Ready.
      const kubeconfig = (await cli(['region', 'kubeconfig', manifest])).stdout.trim();
      expect(kubeconfig).toBe(join(state, 'kubernetes/admin.conf'));
      expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
      const kubectlBin = (await ensureKubeArtifacts()).files.find((f) => f.name === 'kubectl')!.path;
      // A read, tried again for a minute while the emulated API server does not answer in time.
      const kubectlOnce = (args: string[]) =>
        execa(kubectlBin, ['--kubeconfig', kubeconfig, '--request-timeout=30s', ...args], { reject: false });
      const kubectl = async (...args: string[]) => {
        let r = await kubectlOnce(args);
        for (let i = 0; i < 6 && r.exitCode !== 0; i++) {
          await new Promise((done) => setTimeout(done, 10_000));
          r = await kubectlOnce(args);
        }
        expect(r.exitCode, `kubectl ${args.join(' ')}: ${r.stderr}`).toBe(0);
        return JSON.parse(r.stdout) as any;
      };
      expect(readFileSync(kubeconfig, 'utf8')).toContain('server: https://10.101.0.5:6443');
      const nodeList = await kubectl('get', 'nodes', '-o', 'json');
      const byName = new Map<string, any>(nodeList.items.map((n: any) => [n.metadata.name, n]));
      expect([...byName.keys()].sort()).toEqual(Object.keys(NODES));
      for (const [name, n] of byName) {
        const ready = n.status.conditions.find((c: any) => c.type === 'Ready');
        expect(ready.status, `${name}: ${ready.message}`).toBe('True');
        expect(n.status.nodeInfo.kubeletVersion).toBe('v1.35.4');
        expect(n.metadata.labels['topology.kubernetes.io/region']).toBe(region);
        expect(n.metadata.labels['topology.kubernetes.io/zone']).toBe('r01');
        expect(n.metadata.labels['civostack.io/role']).toBe(name === 'r01-n01' ? 'control-plane' : 'worker');
      }
      const pods = await kubectl('-n', 'civostack-system', 'get', 'pods', '-o', 'json');
      expect(
        pods.items.filter((p: any) => p.status.phase === 'Running').length,
        JSON.stringify(pods.items.map((p: any) => p.status)),
      ).toBeGreaterThan(0);
      const regionObject = await kubectl('get', 'regions.civostack.io', region, '-o', 'json');
      const conditions = new Map<string, any>(regionObject.status.conditions.map((c: any) => [c.type, c]));
      for (const type of ['NodesReady', 'Labelled', 'Ready'])
        expect(conditions.get(type)?.status, JSON.stringify(regionObject.status)).toBe('True');

      // What a re-run must not restart: kubelet on every node, the control plane's containers, the operator's pod.
      const sshRun = (address: string, command: string) =>
        execa(
          'ssh',
          [
            '-i',
            key,
            '-o',
            `UserKnownHostsFile=${join(state, `known_hosts.${address}`)}`,
            '-o',
            'StrictHostKeyChecking=yes',
            '-o',
            'BatchMode=yes',
            `root@${address}`,
            command,
          ],
          { reject: false },
        );
      for (const [name, address] of ADDRESSES)
        writeFileSync(
          join(state, `known_hosts.${address}`),
          (nodes[name]!.hostKeys ?? []).map((k) => `${address} ${k}`).join('\n'),
        );
      // What civostack could restart: kubelet and containerd (systemd), a control-plane component
      // (its static pod manifest rewritten), the operator (its pod replaced). A component that the
      // kubelet restarts on its own (a liveness probe or a lost lease on a starved emulated machine)
      // is not civostack's doing, so container ids are not compared.
      const running = async () => ({
        services: await Promise.all(
          ADDRESSES.map(async ([, a]) =>
            String(
              (
                await sshRun(
                  a,
                  'for u in kubelet containerd keepalived; do echo "$u $(systemctl show -p ActiveEnterTimestampMonotonic --value $u)"; done; ' +
                    'sha256sum /etc/kubernetes/manifests/*.yaml 2>/dev/null; true',
                )
              ).stdout,
            ).trim(),
          ),
        ),
        staticPods: ((await kubectl('-n', 'kube-system', 'get', 'pods', '-o', 'json')).items as any[])
          .map((p) => `${p.metadata.name}:${p.metadata.annotations?.['kubernetes.io/config.hash'] ?? ''}`)
          .sort(),
        operator: ((await kubectl('-n', 'civostack-system', 'get', 'pods', '-o', 'json')).items as any[])
          .map((p) => p.metadata.uid)
          .sort(),
      });
      const kubeBefore = await running();
      expect(kubeBefore.staticPods.some((c) => /^kube-apiserver-r01-n01:[0-9a-f]{32}$/.test(c))).toBe(true);
      expect(kubeBefore.services[0]).toMatch(
        /^kubelet [1-9]\d*\ncontainerd [1-9]\d*\nkeepalived [1-9]\d*\n[0-9a-f]{64} /,
      );

      // region up again is idempotent: no machine restarted, no node state changed.
      const pids = () => Object.keys(NODES).map((n) => readFileSync(join(state, `lab/vms/${n}.pid`), 'utf8'));
      // The worker's machine yields the host to the control plane's: every QEMU thread's nice value.
      // A thread's name may hold spaces ("CPU 0/TCG"), so fields count from the last ") "; QEMU's I/O
      // threads come and go, so one that ended between the listing and the read is skipped.
      const nice = (pid: string) =>
        new Set(
          readdirSync(`/proc/${pid.trim()}/task`).flatMap((t) => {
            let stat: string;
            try {
              stat = readFileSync(`/proc/${pid.trim()}/task/${t}/stat`, 'utf8');
            } catch {
              return [];
            }
            return [stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[16]];
          }),
        );
      const [cp, worker] = pids().map((p) => [...nice(p)].map(Number));
      expect(cp).toHaveLength(1);
      expect(worker).toEqual([cp![0]! + 10]);
      const before = { pids: pids(), history: readNodeHistory({ path: state }).length, nodes: states() };
      const again = await cli(['region', 'up', manifest, '--lab', '--yes', '--output', 'json'], 900_000);
      expect(again.exitCode, again.stdout + again.stderr).toBe(0);
      expect(pids()).toEqual(before.pids);
      expect(readNodeHistory({ path: state })).toHaveLength(before.history);
      expect(Object.fromEntries(Object.entries(states()).map(([n, s]) => [n, s.state]))).toEqual(
        Object.fromEntries(Object.entries(before.nodes).map(([n, s]) => [n, s.state])),
      );
      expect(await running()).toEqual(kubeBefore);
      // --output json is JSON lines throughout, the summary (each node's timeline) last.
      const events = String(again.stdout)
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { kind?: string; phase?: string; outcome?: string });
      expect(events.at(-1)?.kind).toBe('summary');
      const outcomes = new Map(events.filter((e) => e.kind === 'phase-end').map((e) => [e.phase, e.outcome]));
      for (const phase of [
        'lab-fabric',
        'fabric',
        'kubernetes-stage',
        'kubernetes-init',
        'kubernetes-join-workers',
        'kubernetes-ready',
        'operator',
      ])
        expect(outcomes.get(phase), again.stdout).toBe('skipped');

      // The control plane's kubelet stopped: the next region up starts it again and the node is Ready.
      expect((await sshRun('10.100.0.10', 'systemctl stop kubelet')).exitCode).toBe(0);
      const recover = await cli(['region', 'up', manifest, '--lab', '--yes'], 900_000);
      expect(recover.exitCode, recover.stdout + recover.stderr).toBe(0);
      expect(recover.stdout).toContain('r01-n01: kubelet was not running: started');
      expect(String((await sshRun('10.100.0.10', 'systemctl is-active kubelet')).stdout).trim()).toBe(
        'active',
      );
      const afterRecovery = await kubectl('get', 'nodes', '-o', 'json');
      for (const n of afterRecovery.items)
        expect(n.status.conditions.find((c: any) => c.type === 'Ready').status, n.metadata.name).toBe('True');

      // lab down leaves no namespace, machine, link or file.
      const down = await cli(['lab', 'down', manifest], 120_000);
      expect(down.exitCode, down.stdout + down.stderr).toBe(0);
      const namespaces = String((await execa('ip', ['netns', 'list'])).stdout);
      expect(namespaces).not.toContain(`civo-${region}`);
      expect(namespaces).not.toContain(`cvfb-${region}-`);
      expect(String((await execa('pgrep', ['-af', 'qemu-system'], { reject: false })).stdout)).not.toContain(
        state,
      );
      expect(existsSync(join(state, 'lab'))).toBe(false);
      expect(String((await execa('ip', ['-o', 'link'])).stdout)).not.toMatch(/civo-h-/);
    },
    75 * 60_000,
  );
});
