// `civostack lab vm <node> start|stop|reset|status|boot-next`: what a lab node's BMC emulator calls to
// act on the node's QEMU machine, playing the hardware behind a real BMC.
//   "on" is a running QEMU process, "off" is none (powering off stops QEMU).
//   boot-next pxe|disk records a one-time boot device; the next start consumes it and puts that device
//   first in QEMU's boot order (bootindex). A start with no record boots the disk first.
//   reset is QMP system_reset; with a boot device recorded, the machine is restarted so it takes it.
// A machine that will not start under KVM, or starts but writes nothing on its serial console in
// time (console-watchdog.ts), is started again under TCG, and the lab's other machines follow.
// Every call is appended to the audit log (JSON lines), which is how the lab's tests see that power
// went through a BMC, and how `region up --lab` learns of a fallback to TCG (labNotices).
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodePlan } from '../plan/index.js';
import type { StateDir } from '../state/index.js';
import { writeFileAtomic } from '../state/atomic.js';
import { UserError } from '../errors.js';
import { recordVerdict, type ProbeOptions } from './accel.js';
import {
  awaitConsole,
  CONSOLE_BOUND_MS,
  endWatch,
  readWatch,
  spawnWatchdog,
  type ConsoleWatch,
} from './console-watchdog.js';
import { qmpCommand } from './qmp.js';
import { readPid, startVm, stopVm, VmError, vmFiles, vmRunning, type Accel } from './qemu.js';

/** `watch-console` is the console watchdog's own call (spawned by a start under KVM), not a BMC's. */
export type VmAction = 'start' | 'stop' | 'reset' | 'status' | 'boot-next' | 'boot-status' | 'watch-console';
export type BmcCaller = 'ipmi' | 'redfish' | 'cli';

/** What the hook needs to start a node's machine, written by ensureBmcEmulators. */
export interface VmSpec {
  readonly node: NodePlan;
  readonly namespace: string;
  readonly taps: readonly string[];
  readonly accel: Accel;
  readonly memoryMiB: number;
  /** vCPUs; under TCG each is a host thread (a control plane gets two). */
  readonly cpus?: number;
  /** The machine's nice value on the host (QemuOptions.nice). */
  readonly nice?: number;
  /** The QEMU binary (default qemu-system-x86_64). */
  readonly qemu?: string;
  /** How long a machine started under KVM has to write on its serial console (default CONSOLE_BOUND_MS). */
  readonly consoleBoundMs?: number;
  /** Where the lab's accelerator verdict is kept (accel.ts): a fallback to TCG is recorded there too. */
  readonly verdict?: { readonly cacheDir: string; readonly probe: ProbeOptions };
}

export interface AuditEntry {
  readonly time: string;
  readonly node: string;
  readonly action: VmAction;
  readonly via: BmcCaller;
  /** start: the device booted first; boot-next: the device recorded. */
  readonly boot?: 'pxe' | 'disk' | 'none';
  /** What the call found or did: on/off for status, started/stopped/already-on/… otherwise. */
  readonly result: string;
  /** A line for the person running the lab: the machine fell back from KVM to TCG, and why. */
  readonly note?: string;
}

export function vmHookPaths(state: StateDir): { dir: string; audit: string } {
  const dir = join(state.path, 'lab', 'vms');
  return { dir, audit: join(state.path, 'lab', 'bmc-audit.jsonl') };
}

function specFile(state: StateDir, node: string): string {
  return join(vmHookPaths(state).dir, `${node}.vm.json`);
}

function bootFile(state: StateDir, node: string): string {
  return join(vmHookPaths(state).dir, `${node}.boot-next`);
}

export function writeVmSpec(state: StateDir, spec: VmSpec): void {
  // Atomic: a watchdog may rewrite every machine's spec while a hook call reads one.
  writeFileAtomic(specFile(state, spec.node.name), `${JSON.stringify(spec, null, 2)}\n`);
}

function readSpec(state: StateDir, node: string): VmSpec {
  const file = specFile(state, node);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as VmSpec;
  } catch {
    throw new UserError(
      `no lab machine ${node} in ${state.path} (${file} is missing)`,
      'start the lab first',
    );
  }
}

/** The audit log's entries, oldest first ([] before the first call). */
export function readAudit(state: StateDir): AuditEntry[] {
  const file = vmHookPaths(state).audit;
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AuditEntry);
}

function running(state: StateDir, node: string): number | undefined {
  const pid = readPid(vmFiles(vmHookPaths(state).dir, node).pidfile);
  return pid !== undefined && vmRunning(pid) ? pid : undefined;
}

/** True while the node's lab machine runs. */
export function vmIsOn(state: StateDir, node: string): boolean {
  return running(state, node) !== undefined;
}

function pendingBoot(state: StateDir, node: string): 'pxe' | 'disk' | undefined {
  try {
    const v = readFileSync(bootFile(state, node), 'utf8').trim();
    return v === 'pxe' || v === 'disk' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The lab's machines run under TCG from now on: the verdict is recorded for this boot of the host
 * (so the next `region up --lab` starts them under TCG at once) and every machine's spec says TCG
 * (so the next start of any of them does). Machines running under KVM are left as they are; a silent
 * one is caught by its own watchdog.
 */
function fallBackToTcg(state: StateDir, spec: VmSpec, reason: string): void {
  if (spec.verdict) recordVerdict(spec.verdict.cacheDir, spec.verdict.probe, { accel: 'tcg', reason });
  const dir = vmHookPaths(state).dir;
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.vm.json'))) {
    const other = readSpec(state, f.slice(0, -'.vm.json'.length));
    if (other.accel === 'kvm') writeVmSpec(state, { ...other, accel: 'tcg' });
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/**
 * Starts the machine with its recorded boot device first (then the disk), or with `again` first when
 * it is started again after a silent boot. A machine that will not start under KVM is started under
 * TCG; one that starts under KVM gets a console watchdog.
 */
async function start(
  state: StateDir,
  spec: VmSpec,
  via: BmcCaller,
  again?: 'pxe' | 'disk',
): Promise<{ boot: 'pxe' | 'disk'; note?: string }> {
  const boot = again ?? pendingBoot(state, spec.node.name) ?? 'disk';
  const dir = vmHookPaths(state).dir;
  const options = (accel: Accel) => ({
    accel,
    taps: spec.taps,
    stateDir: dir,
    namespace: spec.namespace,
    memoryMiB: spec.memoryMiB,
    ...(spec.cpus !== undefined ? { cpus: spec.cpus } : {}),
    ...(spec.nice !== undefined ? { nice: spec.nice } : {}),
    boot,
    ...(spec.qemu ? { qemu: spec.qemu } : {}),
  });
  let note: string | undefined;
  try {
    const pid = await startVm(spec.node, options(spec.accel));
    if (spec.accel === 'kvm') {
      const watch: ConsoleWatch = {
        pid,
        boot,
        since: Date.now(),
        boundMs: spec.consoleBoundMs ?? CONSOLE_BOUND_MS,
        via,
      };
      await spawnWatchdog(state.path, dir, spec.node.name, watch);
    }
  } catch (err) {
    if (spec.accel !== 'kvm' || !(err instanceof VmError)) throw err;
    const why = err.message.split('\n')[0]!;
    note = `${spec.node.name}: QEMU would not start under KVM (${why}): started under software emulation (TCG); the lab's other machines follow`;
    fallBackToTcg(state, spec, `QEMU would not start ${spec.node.name} under KVM: ${why}`);
    await startVm(spec.node, options('tcg'));
  }
  // Consumed: the override was for this boot only.
  if (again === undefined) rmSync(bootFile(state, spec.node.name), { force: true });
  return note === undefined ? { boot } : { boot, note };
}

/**
 * The console watchdog's work (console-watchdog.ts): waits for the machine started under KVM to
 * write on its serial console; if it does not in time, stops it and starts it again under TCG with
 * the same device first.
 */
async function watchConsole(
  state: StateDir,
  spec: VmSpec,
  watch: ConsoleWatch,
  via: BmcCaller,
): Promise<{ result: string; boot?: 'pxe' | 'disk'; note?: string }> {
  const node = spec.node.name;
  const files = vmFiles(vmHookPaths(state).dir, node);
  const verdict = await awaitConsole({
    serial: files.serial,
    qemuPidfile: files.pidfile,
    watch,
    verdictIsTcg: () => {
      try {
        return readSpec(state, node).accel === 'tcg';
      } catch {
        return false;
      }
    },
  });
  if (verdict === 'spoke' || verdict === 'gone') return { result: verdict };
  const silence = seconds(Date.now() - watch.since);
  const why =
    verdict === 'silent'
      ? `${node} wrote nothing on its serial console in ${seconds(watch.boundMs)} under KVM`
      : `${node} had written nothing on its serial console after ${silence} under KVM, and the lab has turned to TCG`;
  await stopVm(watch.pid);
  if (verdict === 'silent') fallBackToTcg(state, spec, why);
  try {
    await start(state, { ...spec, accel: 'tcg' }, via, watch.boot);
  } catch (err) {
    return {
      result: 'stopped; not restarted',
      note: `${why}: stopped it, but it would not start under software emulation (TCG): ${(err as Error).message.split('\n')[0]!}`,
    };
  }
  return {
    result: 'restarted under TCG',
    boot: watch.boot,
    note: `${why}: stopped it and started it again under software emulation (TCG)${verdict === 'silent' ? "; the lab's other machines follow" : ''}`,
  };
}

/**
 * Runs one hook action on `node`'s machine and records it. Returns what a caller prints: "on"/"off"
 * for status, the recorded device (or "none") for boot-status, the result otherwise.
 */
export async function labVm(
  state: StateDir,
  node: string,
  action: VmAction,
  via: BmcCaller,
  device?: 'pxe' | 'disk' | 'none',
): Promise<string> {
  const spec = readSpec(state, node);
  const log = (result: string, boot?: AuditEntry['boot'], note?: string) => {
    const entry: AuditEntry = {
      time: new Date().toISOString(),
      node,
      action,
      via,
      ...(boot ? { boot } : {}),
      result,
      ...(note ? { note } : {}),
    };
    appendFileSync(vmHookPaths(state).audit, `${JSON.stringify(entry)}\n`);
    return note ? `${result}; ${note}` : result;
  };
  const pid = running(state, node);
  switch (action) {
    case 'status':
      return log(pid === undefined ? 'off' : 'on');
    case 'boot-status':
      return log(pendingBoot(state, node) ?? 'none');
    case 'boot-next':
      if (device === undefined) throw new UserError('boot-next needs pxe, disk or none');
      if (device === 'none') rmSync(bootFile(state, node), { force: true });
      else writeFileSync(bootFile(state, node), `${device}\n`);
      return log('recorded', device);
    case 'start': {
      if (pid !== undefined) return log('already-on');
      const { boot, note } = await start(state, spec, via);
      return log('started', boot, note);
    }
    case 'stop':
      if (pid === undefined) return log('already-off');
      await stopVm(pid);
      return log('stopped');
    case 'reset': {
      if (pid === undefined) return log('off');
      if (pendingBoot(state, node) !== undefined) {
        await stopVm(pid);
        const { boot, note } = await start(state, spec, via);
        return log('restarted', boot, note);
      }
      await qmpCommand(vmFiles(vmHookPaths(state).dir, node).qmp, 'system_reset');
      return log('reset');
    }
    case 'watch-console': {
      const watch = readWatch(vmHookPaths(state).dir, node);
      if (watch === undefined) return 'nothing to watch';
      try {
        const r = await watchConsole(state, spec, watch, via);
        return log(r.result, r.boot, r.note);
      } finally {
        endWatch(vmHookPaths(state).dir, node, watch);
      }
    }
  }
}

/**
 * The notes the hook recorded from now on (fallbacks to TCG), each returned once: what `region up
 * --lab` shows the person running it while it waits for the nodes.
 */
export function labNotices(state: StateDir): () => { readonly node: string; readonly message: string }[] {
  const read = () => {
    try {
      return readAudit(state);
    } catch {
      return undefined; // a line being written: read again at the next call
    }
  };
  let seen = read()?.length ?? 0;
  return () => {
    const audit = read();
    if (audit === undefined) return [];
    // A log shorter than what was seen was removed (lab down) and begun again.
    const fresh = audit.slice(audit.length < seen ? 0 : seen);
    seen = audit.length;
    return fresh.flatMap((e) => (e.note ? [{ node: e.node, message: e.note }] : []));
  };
}
