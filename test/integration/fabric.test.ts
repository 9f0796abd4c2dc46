// The fabric rehearsal with real FRR: the lab region's rendered frr.conf files running in network
// namespaces, with simulated transit providers; its checks, the failure drill, and manifests built
// to fail them. Needs root (namespaces) and Debian's frr and iputils-ping.
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fabricChecks,
  fabricDown,
  fabricUp,
  type CheckResult,
  type DrillResult,
} from '../../src/lab/fabric/index.js';
import { civostack } from '../helpers/cli.js';
import { LAB, labWith, type LabManifest } from '../helpers/manifest.js';
import { renderedRegion } from '../helpers/fabric.js';

const ready = process.getuid?.() === 0 && existsSync('/usr/lib/frr/bgpd') && existsSync('/usr/bin/ping');
const REGION = 'lab1';

interface Report {
  ok: boolean;
  sessionsUpMs: number;
  limitations: string[];
  checks: CheckResult[];
  drill?: DrillResult;
}

async function fabric(
  manifest: string,
  ...flags: string[]
): Promise<{ exitCode: number; report: Report; stderr: string }> {
  const r = await civostack(['lab', 'fabric', manifest, '--output', 'json', ...flags]);
  if (!r.stdout.trim()) throw new Error(`no report (exit ${r.exitCode}):\n${r.stderr}`);
  return { exitCode: r.exitCode, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

const check = (report: Report, id: string) => report.checks.find((c) => c.id === id)!;

async function ourNamespaces(): Promise<string[]> {
  const r = await execa('ip', ['netns', 'list']);
  return r.stdout
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`cvfb-${REGION}-`));
}

describe.runIf(ready)('lab fabric', () => {
  beforeAll(async () => {
    await fabricDown(REGION);
  });
  afterAll(async () => {
    await fabricDown(REGION);
  });

  it('runs the lab region with every session up, every check passing and the drill surviving every single failure', async () => {
    const { exitCode, report, stderr } = await fabric(LAB, '--drill');
    expect(
      report.checks.filter((c) => c.status !== 'pass'),
      stderr,
    ).toEqual([]);
    expect(check(report, 'sessions').details).toEqual(['12 sessions']);
    expect(report.limitations.join(' ')).toMatch(/MCLAG and LACP are not rehearsed/);
    const drill = report.drill!;
    // 4 uplinks, 2 peer-link cables, 2 transit links; 2 ToRs and 2 border routers.
    expect(drill.failures).toHaveLength(12);
    expect(drill.failures.filter((f) => f.cutOff.length > 0)).toEqual([]);
    expect(drill.failures.every((f) => f.settled)).toBe(true);
    expect(drill.passed).toBe(true);
    expect(exitCode).toBe(0);
    // Nothing is left running once the command returns.
    expect(await ourNamespaces()).toEqual([]);
    console.log(
      `lab.yaml: sessions up ${(report.sessionsUpMs / 1000).toFixed(1)} s; drill ${(drill.wallMs / 1000).toFixed(0)} s; ` +
        drill.failures.map((f) => `${f.failure} ${(f.convergenceMs / 1000).toFixed(1)} s`).join(', '),
    );
  }, 600_000);

  it('reports a border router without a transit as a single point of failure', async () => {
    const manifest = labWith((m: LabManifest) => {
      const br2 = m.racks[0].switches.find((s: { name: string }) => s.name === 'br2');
      delete br2.upstreams;
    });
    const { exitCode, report } = await fabric(manifest, '--drill');
    expect(exitCode).toBe(1);
    // br2 has nothing to offer the racks, so it sends them no default route.
    expect(check(report, 'tor-default').details).toEqual([
      'r01-tor1 has no default route via br2 (10.255.255.4)',
      'r01-tor2 has no default route via br2 (10.255.255.8)',
    ]);
    const cut = report.drill!.failures.filter((f) => f.cutOff.length > 0).map((f) => f.failure);
    // Every way to br1 or out of it is now the racks' only way to the internet.
    expect(cut).toEqual([
      'link r01-tor1:Ethernet48—br1:Ethernet64',
      'link r01-tor2:Ethernet48—br1:Ethernet68',
      'link br1:Ethernet0—transit-br1-transit-a',
      'device br1',
    ]);
    expect(report.drill!.passed).toBe(false);
  }, 600_000);

  it('reports a ToR with a single uplink as a single point of failure', async () => {
    const manifest = labWith((m: LabManifest) => {
      m.racks[0].uplinks = m.racks[0].uplinks.filter(
        (u: { switch: string; border: string }) => !(u.switch === 'r01-tor1' && u.border === 'br2'),
      );
    });
    const { exitCode, report } = await fabric(manifest, '--drill');
    expect(exitCode).toBe(1);
    const cut = report.drill!.failures.filter((f) => f.cutOff.length > 0);
    expect(cut.map((f) => f.failure)).toEqual([
      'link r01-tor1:Ethernet48—br1:Ethernet64',
      'link br1:Ethernet0—transit-br1-transit-a',
      'device br1',
    ]);
    expect(cut[0]!.cutOff).toContain(
      "rack r01: r01-tor1 is unreachable from every border router (its nodes' links to it stay up)",
    );
  }, 600_000);

  it('trips max-prefix on a full-table transit that sends more than its limit, and restores it', async () => {
    const manifest = labWith((m: LabManifest) => {
      const br1 = m.racks[0].switches.find((s: { name: string }) => s.name === 'br1');
      br1.upstreams[0].acceptFullTable = true;
      br1.upstreams[0].maxPrefixes = 5;
    });
    const { exitCode, report } = await fabric(manifest);
    expect(check(report, 'max-prefix').status).toBe('pass');
    expect(check(report, 'max-prefix').details[0]).toMatch(
      /^br1 tore down transit-a after 10 extra routes \(limit 5\) /,
    );
    // The full-table session takes the internet prefixes and still nothing filtered.
    expect(check(report, 'transit-import').status).toBe('pass');
    expect(exitCode).toBe(0);
  }, 300_000);

  it('catches a border router that leaks more than the aggregates to transit', async () => {
    const { plan, configs, secret } = renderedRegion(LAB);
    // The export policy broken on purpose: everything goes out.
    const leaky = new Map(
      [...configs].map(([name, c]) => [
        name,
        c.replace('route-map RM-TRANSIT-OUT deny 100', 'route-map RM-TRANSIT-OUT permit 100'),
      ]),
    );
    const lab = await fabricUp({ plan, configs: leaky, secret });
    try {
      const results = await fabricChecks(lab, 5000);
      const exported = results.find((c) => c.id === 'transit-export')!;
      expect(exported.status).toBe('fail');
      expect(exported.details[0]).toMatch(/^transit-a \(from br1\) received extra .*10\.101\.0\.0\/24/);
    } finally {
      await fabricDown(REGION);
    }
    expect(await ourNamespaces()).toEqual([]);
  }, 300_000);

  it('lab fabric down removes what a killed run left: namespaces and FRR', async () => {
    const { plan, configs, secret } = renderedRegion(LAB);
    await fabricUp({ plan, configs, secret });
    expect((await ourNamespaces()).length).toBe(6);
    const r = await civostack(['lab', 'fabric', 'down', LAB]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/fabric lab lab1 removed \(6 namespaces\)/);
    expect(await ourNamespaces()).toEqual([]);
    expect(existsSync('/run/cvfb/lab1')).toBe(false);
    const bgpd = await execa('pgrep', ['-f', '/run/cvfb/lab1/'], { reject: false });
    expect(bgpd.stdout).toBe('');
  }, 300_000);
});
