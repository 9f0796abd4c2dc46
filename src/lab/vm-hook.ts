// `civostack lab vm <node> start|stop|reset|status|boot-next`: what a lab node's BMC emulator calls to
// act on the node's QEMU machine, playing the hardware behind a real BMC.
//   "on" is a running QEMU process, "off" is none (powering off stops QEMU).
//   boot-next pxe|disk records a one-time boot device; the next start consumes it and puts that device
//   first in QEMU's boot order (bootindex). A start with no record boots the disk first.
//   reset is QMP system_reset; with a boot device recorded, the machine is restarted so it takes it.
// Every call is appended to the audit log (JSON lines), which is how the lab's tests see that power
// went through a BMC.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { NodePlan } from '../plan/index.js';
import type { StateDir } from '../state/index.js';
import { UserError } from '../errors.js';
import { qmpCommand } from './qmp.js';
import { readPid, startVm, stopVm, VmError, vmFiles, vmRunning, type Accel } from './qemu.js';

export type VmAction = 'start' | 'stop' | 'reset' | 'status' | 'boot-next' | 'boot-status';
export type BmcCaller = 'ipmi' | 'redfish' | 'cli';

/** What the hook needs to start a node's machine, written by ensureBmcEmulators. */
export interface VmSpec {
  readonly node: NodePlan;
  readonly namespace: string;
  readonly taps: readonly string[];
  readonly accel: Accel;
  readonly memoryMiB: number;
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
  const file = specFile(state, spec.node.name);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(spec, null, 2)}\n`);
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
 * Starts the machine with its recorded boot device. A machine that will not start under KVM is
 * started under TCG, and its spec says so from then on (the lab's other machines follow the
 * verdict the lab recorded; see accel.ts).
 */
async function start(state: StateDir, spec: VmSpec): Promise<{ boot: 'pxe' | 'disk'; note?: string }> {
  const boot = pendingBoot(state, spec.node.name) ?? 'disk';
  const options = (accel: Accel) => ({
    accel,
    taps: spec.taps,
    stateDir: vmHookPaths(state).dir,
    namespace: spec.namespace,
    memoryMiB: spec.memoryMiB,
    boot,
  });
  let note: string | undefined;
  try {
    await startVm(spec.node, options(spec.accel));
  } catch (err) {
    if (spec.accel !== 'kvm' || !(err instanceof VmError)) throw err;
    note = `QEMU would not start under KVM (${err.message.split('\n')[0]}): started under TCG`;
    writeVmSpec(state, { ...spec, accel: 'tcg' });
    await startVm(spec.node, options('tcg'));
  }
  // Consumed: the override was for this boot only.
  rmSync(bootFile(state, spec.node.name), { force: true });
  return note === undefined ? { boot } : { boot, note };
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
  const log = (result: string, boot?: AuditEntry['boot']) => {
    const entry: AuditEntry = {
      time: new Date().toISOString(),
      node,
      action,
      via,
      ...(boot ? { boot } : {}),
      result,
    };
    appendFileSync(vmHookPaths(state).audit, `${JSON.stringify(entry)}\n`);
    return result;
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
      const { boot, note } = await start(state, spec);
      return log(note ? `started; ${note}` : 'started', boot);
    }
    case 'stop':
      if (pid === undefined) return log('already-off');
      await stopVm(pid);
      return log('stopped');
    case 'reset': {
      if (pid === undefined) return log('off');
      if (pendingBoot(state, node) !== undefined) {
        await stopVm(pid);
        const { boot, note } = await start(state, spec);
        return log(note ? `restarted; ${note}` : 'restarted', boot);
      }
      await qmpCommand(vmFiles(vmHookPaths(state).dir, node).qmp, 'system_reset');
      return log('reset');
    }
  }
}
