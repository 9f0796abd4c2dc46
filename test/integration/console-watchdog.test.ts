// The console watchdog with real QEMU: lab machines started through the `lab vm` hook under KVM, in a
// network namespace this test makes and `lab down` removes. Each machine boots a real 512-byte boot
// sector from its disk: one writes a line to COM1, the other halts without a word (a guest that
// prints nothing, as the installer's kernel does on hosts whose KVM runs it badly). This host's KVM
// aborts on `-cpu host`, so the QEMU the specs name runs what civostack asks for under KVM with TCG
// instead (its call log keeps what was asked); the watchdog sees exactly what a silent guest leaves:
// a running QEMU and an empty serial log.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CivoEvent } from '../../src/events.js';
import { chooseAccel, type ProbeOptions } from '../../src/lab/accel.js';
import { watchdogFiles } from '../../src/lab/console-watchdog.js';
import {
  createLabNetwork,
  labDown,
  labNetwork,
  labNotices,
  labVm,
  qmpCommand,
  readAudit,
  vmFiles,
  vmHookPaths,
  vmRunning,
  writeVmSpec,
  type LabNetwork,
  type VmSpec,
} from '../../src/lab/index.js';
import { readPid } from '../../src/lab/qemu.js';
import { loadRegion } from '../../src/manifest/index.js';
import { planRegion, type Plan } from '../../src/plan/index.js';
import type { StateDir } from '../../src/state/index.js';
import { labWith, tempDir } from '../helpers/manifest.js';

const REGION = 'cvwd';
const SILENT = 'r01-n01';
const SPEAKER = 'r01-n02';
const BOUND_MS = 10_000;
const GREETING = 'civostack test guest on COM1';

let plan: Plan;
let state: StateDir;
let net: LabNetwork;
let work: string;
let qemu: string;
let cacheDir: string;
/** Stands in for /dev/kvm: chooseAccel reads a verdict only where the device exists. */
let kvmDevice: string;
const probe: ProbeOptions = { kernel: '/k/vmlinuz', initrd: '/k/initrd.img', firmwares: ['bios'] };

/**
 * A boot sector (real mode, loaded at 0x7c00). Speaking: cld; xor ax,ax; mov ds,ax; mov si,msg;
 * mov dx,0x3f8; next: lodsb; test al,al; jz halt; out dx,al; jmp next; halt: cli; hlt; jmp halt.
 * Silent: cli; hlt; jmp hlt.
 */
function bootSector(message?: string): Buffer {
  const sector = Buffer.alloc(512);
  const code = message
    ? [0xfc, 0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x17, 0x7c, 0xba, 0xf8, 0x03, 0xac, 0x84, 0xc0, 0x74, 0x03]
        .concat([0xee, 0xeb, 0xf8, 0xfa, 0xf4, 0xeb, 0xfd])
        .concat([...Buffer.from(`${message}\r\n`, 'latin1'), 0])
    : [0xfa, 0xf4, 0xeb, 0xfd];
  Buffer.from(code).copy(sector);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

async function writeDisk(node: string, sector: Buffer): Promise<void> {
  const raw = join(work, `${node}.raw`);
  // SeaBIOS cannot read a disk of one sector: a MiB, the rest zeros.
  writeFileSync(raw, Buffer.concat([sector, Buffer.alloc(1024 * 1024 - sector.length)]));
  await execa('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, vmFiles(vmDir(), node).disk]);
}

function vmDir(): string {
  return vmHookPaths(state).dir;
}

function spec(node: string, over: Partial<VmSpec> = {}): VmSpec {
  return {
    node: plan.nodes.find((n) => n.name === node)!,
    namespace: net.namespace,
    taps: net.nodes.find((p) => p.node === node)!.taps.map((t) => t.name),
    accel: 'kvm',
    memoryMiB: 128,
    qemu,
    consoleBoundMs: BOUND_MS,
    verdict: { cacheDir, probe },
    ...over,
  };
}

function readSpec(node: string): VmSpec {
  return JSON.parse(readFileSync(join(vmDir(), `${node}.vm.json`), 'utf8')) as VmSpec;
}

function qemuPid(node: string): number | undefined {
  const pid = readPid(vmFiles(vmDir(), node).pidfile);
  return pid !== undefined && vmRunning(pid) ? pid : undefined;
}

function cmdline(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
}

/** What civostack asked the QEMU binary for, per call, for `node`. */
function asked(node: string): string[] {
  return readFileSync(`${qemu}.calls`, 'utf8')
    .split('\n')
    .filter((l) => l.includes(`-name ${node} `));
}

function watchdogPid(node: string): number | undefined {
  const pid = readPid(watchdogFiles(vmDir(), node).pidfile);
  return pid !== undefined && vmRunning(pid) ? pid : undefined;
}

async function until<T>(what: string, fn: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function watchEntry(node: string) {
  return readAudit(state).find((e) => e.node === node && e.action === 'watch-console');
}

/** A namespace an earlier, killed run of this test left behind. */
async function removeLeftovers(namespace: string): Promise<void> {
  const pids = String((await execa('ip', ['netns', 'pids', namespace], { reject: false })).stdout)
    .split(/\s+/)
    .filter(Boolean);
  if (pids.length) await execa('kill', ['-KILL', ...pids], { reject: false });
  await execa('ip', ['netns', 'del', namespace], { reject: false });
}

beforeAll(async () => {
  const manifest = labWith((m) => {
    m.region.name = REGION;
    m.networks.oob = { cidr: '10.203.0.0/20', rackPrefix: 24 };
    m.networks.provisioning = { cidr: '10.203.16.0/20', rackPrefix: 24, vlan: 10 };
    m.networks.node = { cidr: '10.203.32.0/20', rackPrefix: 24, vlan: 20 };
    m.networks.loopback = '10.203.48.0/24';
    m.networks.p2p = '10.203.49.0/24';
    m.bootstrap.address = '10.203.16.5';
    m.os.nameservers = ['10.203.16.5'];
    m.kubernetes.apiVip = '10.203.32.5';
    const rack = m.racks[0];
    rack.nodes = rack.nodes.slice(0, 2);
    for (const n of rack.nodes) n.sku = 'lab-vm-bios';
  });
  const loaded = loadRegion(manifest);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics));
  plan = planRegion(loaded.region, {}, { prune: false }).plan;
  work = tempDir('cvwd-');
  state = { path: join(work, 'state') };
  cacheDir = join(work, 'cache');
  kvmDevice = join(work, 'kvm');
  writeFileSync(kvmDevice, '');
  net = labNetwork(plan, REGION, { features: { bonding: false, vlan: false, vlanFiltering: false } });
  await removeLeftovers(net.namespace);
  await createLabNetwork(net);

  qemu = join(work, 'qemu-kvm-as-tcg');
  writeFileSync(
    qemu,
    [
      '#!/bin/sh',
      '# Records what it was asked for, then runs it with TCG in place of KVM (and no -cpu host).',
      `echo "$*" >> "$0.calls"`,
      'drop=',
      'for a do',
      '  shift',
      '  if [ -n "$drop" ]; then drop=; continue; fi',
      '  case "$a" in',
      '    -cpu) drop=1 ;;',
      '    kvm) set -- "$@" tcg ;;',
      '    *) set -- "$@" "$a" ;;',
      '  esac',
      'done',
      'exec qemu-system-x86_64 "$@"',
      '',
    ].join('\n'),
  );
  chmodSync(qemu, 0o755);
  for (const node of [SILENT, SPEAKER]) writeVmSpec(state, spec(node));
  await writeDisk(SILENT, bootSector());
  await writeDisk(SPEAKER, bootSector(GREETING));
}, 60_000);

afterAll(async () => {
  if (plan && state) await labDown(plan, state, () => {});
  if (net) await removeLeftovers(net.namespace);
}, 60_000);

describe('the console watchdog', () => {
  it('starts a machine that stays silent under KVM again under TCG, with one line, and leaves one that speaks alone', async () => {
    const notices = labNotices(state);
    for (const node of [SILENT, SPEAKER]) {
      expect(await labVm(state, node, 'boot-next', 'ipmi', 'disk')).toBe('recorded');
      expect(await labVm(state, node, 'start', 'ipmi')).toBe('started');
    }
    const silentPid = qemuPid(SILENT)!;
    const speakerPid = qemuPid(SPEAKER)!;
    expect(asked(SILENT)[0]).toContain('-accel kvm -cpu host');
    expect(watchdogPid(SILENT)).toBeDefined();
    // A second start of a running machine is a no-op: no second watchdog.
    const watchdog = watchdogPid(SILENT);
    expect(await labVm(state, SILENT, 'start', 'ipmi')).toBe('already-on');
    expect(watchdogPid(SILENT)).toBe(watchdog);

    // The machine that speaks is judged to, and left alone.
    expect(await until(`${SPEAKER}'s watchdog`, () => watchEntry(SPEAKER), BOUND_MS + 20_000)).toMatchObject({
      action: 'watch-console',
      via: 'ipmi',
      result: 'spoke',
    });
    expect(readFileSync(vmFiles(vmDir(), SPEAKER).serial, 'utf8')).toContain(GREETING);

    // The silent one: stopped, the verdict recorded, started again under TCG with the disk first.
    const entry = await until(`${SILENT}'s watchdog`, () => watchEntry(SILENT), BOUND_MS + 40_000);
    const line = `${SILENT} wrote nothing on its serial console in 10 s under KVM: stopped it and started it again under software emulation (TCG); the lab's other machines follow`;
    expect(entry).toMatchObject({ via: 'ipmi', boot: 'disk', result: 'restarted under TCG', note: line });
    expect(notices()).toEqual([{ node: SILENT, message: line }]);
    expect(notices()).toEqual([]);

    expect(vmRunning(silentPid)).toBe(false);
    const again = qemuPid(SILENT)!;
    expect(again).toBeDefined();
    expect(asked(SILENT)).toHaveLength(2);
    expect(asked(SILENT)[1]).toContain('-accel tcg');
    expect(asked(SILENT)[1]).not.toContain('-cpu host');
    expect(cmdline(again)).toContain('-accel tcg');
    expect(cmdline(again)).toContain('virtio-blk-pci,drive=disk0,bootindex=1');
    expect(cmdline(again)).toContain(asked(SILENT)[0]!.replace('-accel kvm -cpu host', '-accel tcg'));
    expect(await qmpCommand(vmFiles(vmDir(), SILENT).qmp, 'query-kvm')).toMatchObject({ enabled: false });

    // The other machines follow: every spec says TCG, and so does the verdict for this boot.
    expect([readSpec(SILENT).accel, readSpec(SPEAKER).accel]).toEqual(['tcg', 'tcg']);
    const verdict = await chooseAccel('auto', cacheDir, { ...probe, kvmDevice });
    expect(verdict).toMatchObject({ accel: 'tcg', cached: true });
    expect(verdict.reason).toBe(`${SILENT} wrote nothing on its serial console in 10 s under KVM`);

    // The speaker still runs the QEMU it started with; no watchdog is left; under TCG none watches.
    expect(qemuPid(SPEAKER)).toBe(speakerPid);
    expect([watchdogPid(SILENT), watchdogPid(SPEAKER)]).toEqual([undefined, undefined]);
    expect(existsSync(watchdogFiles(vmDir(), SILENT).watch)).toBe(false);
    expect(readAudit(state).filter((e) => e.action === 'watch-console')).toHaveLength(2);
  }, 120_000);

  it("records TCG for the lab's machines when QEMU will not start under KVM", async () => {
    const refuses = join(work, 'qemu-refuses-kvm');
    writeFileSync(
      refuses,
      `#!/bin/sh\necho "$*" >> "$0.calls"\ncase "$*" in *"-accel kvm"*) echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2; exit 1;; esac\nexec qemu-system-x86_64 "$@"\n`,
    );
    chmodSync(refuses, 0o755);
    await labVm(state, SPEAKER, 'stop', 'redfish');
    for (const node of [SILENT, SPEAKER]) writeVmSpec(state, spec(node, { qemu: refuses }));
    const out = await labVm(state, SPEAKER, 'start', 'redfish');
    expect(out).toMatch(
      /^started; r01-n02: QEMU would not start under KVM \(QEMU for r01-n02 did not start \(kvm\): qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69\): started under software emulation \(TCG\); the lab's other machines follow$/,
    );
    expect(cmdline(qemuPid(SPEAKER)!)).toContain('-accel tcg');
    expect(watchdogPid(SPEAKER)).toBeUndefined();
    expect([readSpec(SILENT).accel, readSpec(SPEAKER).accel]).toEqual(['tcg', 'tcg']);
    const verdict = await chooseAccel('auto', cacheDir, { ...probe, kvmDevice });
    expect(verdict.reason).toMatch(/^QEMU would not start r01-n02 under KVM: .*failed to set MSR/);
  }, 60_000);

  it('starts a machine that has not spoken yet again under TCG once another machine turned the lab to TCG', async () => {
    await labVm(state, SILENT, 'stop', 'cli');
    writeVmSpec(state, spec(SILENT, { consoleBoundMs: 600_000 }));
    expect(await labVm(state, SILENT, 'start', 'cli')).toBe('started');
    const before = readAudit(state).length;
    // What another machine's fallback does to this one's spec (vm-hook.ts, fallBackToTcg).
    writeVmSpec(state, spec(SILENT, { accel: 'tcg', consoleBoundMs: 600_000 }));
    const entry = await until(
      `${SILENT}'s watchdog`,
      () =>
        readAudit(state)
          .slice(before)
          .find((e) => e.action === 'watch-console'),
      20_000,
    );
    expect(entry).toMatchObject({ node: SILENT, via: 'cli', boot: 'disk', result: 'restarted under TCG' });
    expect(entry.note).toMatch(
      new RegExp(
        `^${SILENT} had written nothing on its serial console after [0-9.]+ s under KVM, and the lab has turned to TCG: stopped it and started it again under software emulation \\(TCG\\)$`,
      ),
    );
    expect(cmdline(qemuPid(SILENT)!)).toContain('-accel tcg');
  }, 60_000);

  it('is stopped by lab down while it watches, and nothing is left running', async () => {
    await labVm(state, SILENT, 'stop', 'cli');
    writeVmSpec(state, spec(SILENT, { consoleBoundMs: 600_000 }));
    expect(await labVm(state, SILENT, 'start', 'cli')).toBe('started');
    const watchdog = watchdogPid(SILENT)!;
    const machines = [qemuPid(SILENT)!, qemuPid(SPEAKER)!];
    expect(watchdog).toBeDefined();
    const events: CivoEvent[] = [];
    await labDown(plan, state, (e) => events.push(e));
    expect(events).toContainEqual(
      expect.objectContaining({ message: `${SILENT}: console watchdog stopped` }),
    );
    expect(vmRunning(watchdog)).toBe(false);
    expect(machines.map(vmRunning)).toEqual([false, false]);
    expect((await execa('ip', ['netns', 'pids', net.namespace], { reject: false })).exitCode).not.toBe(0);
    expect(existsSync(vmDir())).toBe(false);
  }, 60_000);
});
