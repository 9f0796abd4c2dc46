// The lab's machines: QEMU VMs with a node's MACs on its taps, PXE first and the disk next, serial
// console to a file in the lab state dir. Argument building is pure; starting and stopping are not.
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { NodePlan } from '../plan/index.js';
import { machineArgs, QEMU, type Accel } from './accel.js';
import { processRunning, readPid, stopProcess } from './process.js';

export { readPid };

export { QEMU, type Accel } from './accel.js';

/** Debian's ovmf package (4 MiB flash layout). */
export const OVMF = {
  code: '/usr/share/OVMF/OVMF_CODE_4M.fd',
  vars: '/usr/share/OVMF/OVMF_VARS_4M.fd',
} as const;

/** The files of one VM in the lab state dir. */
export interface VmFiles {
  readonly disk: string;
  readonly serial: string;
  readonly pidfile: string;
  /** UEFI only: the node's own copy of the OVMF variable store (boot order, NVRAM). */
  readonly vars: string;
  readonly stdout: string;
  readonly stderr: string;
  /** QMP socket: the lab's BMC hook resets and queries the machine through it. */
  readonly qmp: string;
}

export function vmFiles(stateDir: string, node: string): VmFiles {
  const base = join(stateDir, node);
  return {
    disk: `${base}.qcow2`,
    serial: `${base}.serial.log`,
    pidfile: `${base}.pid`,
    vars: `${base}.OVMF_VARS.fd`,
    stdout: `${base}.qemu.out`,
    stderr: `${base}.qemu.err`,
    qmp: `${base}.qmp`,
  };
}

export interface QemuOptions {
  readonly accel: Accel;
  /** The node's taps, in the node's NIC order (from the lab network description). */
  readonly taps: readonly string[];
  readonly stateDir: string;
  readonly memoryMiB?: number;
  readonly cpus?: number;
  /**
   * The machine's nice value on the host (0–19; default 0). Under software emulation every vCPU is a
   * busy host thread, and a lab's workers competing with its control plane starved the API server.
   */
  readonly nice?: number;
  readonly ovmfCode?: string;
  /**
   * The device the machine boots first, as a BMC's one-time override sets it: 'pxe' puts the first
   * NIC first, 'disk' the disk. The other stays second, and a blank disk still falls through to the
   * network, as on real firmware. Undefined: the lab's own order (BIOS network first, UEFI disk first).
   * UEFI machines always boot their disk first: QEMU keeps a boot order across guest reboots, so a
   * NIC put first would net-boot again after the installer's reboot (a Once override is not
   * emulated), and iPXE's EFI build cannot sanboot the disk back. A blank disk falls through to PXE.
   */
  readonly boot?: 'pxe' | 'disk';
}

function noComma(what: string, value: string): string {
  // QEMU option values are comma-separated; a comma in a path would silently split it.
  if (value.includes(','))
    throw new Error(`${what} ${JSON.stringify(value)} contains a comma, which QEMU cannot take`);
  return value;
}

/**
 * QEMU's arguments for `node`. NIC 0 is tried first (PXE), the disk next. BIOS nodes boot through
 * QEMU's iPXE option ROM (ipxe-qemu), which goes straight to HTTP. UEFI nodes get OVMF and no option ROM
 * (`romfile=`), so OVMF's own PXE does DHCP (client arch 7) and fetches ipxe.efi over TFTP, as a real
 * server's firmware would.
 */
export function qemuArgs(node: NodePlan, opts: QemuOptions): string[] {
  if (opts.taps.length !== node.nics.length)
    throw new Error(`${node.name} has ${node.nics.length} NICs but ${opts.taps.length} taps were given`);
  const files = vmFiles(opts.stateDir, node.name);
  const uefi = node.firmware === 'uefi';
  const diskFirst = uefi || opts.boot === 'disk';
  const args = [
    '-name',
    node.name,
    ...machineArgs(node.firmware, opts.accel),
    '-smp',
    String(opts.cpus ?? 1),
    '-m',
    `${opts.memoryMiB ?? 1024}M`,
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-serial',
    `file:${noComma('serial log', files.serial)}`,
    '-pidfile',
    files.pidfile,
    '-qmp',
    `unix:${noComma('QMP socket', files.qmp)},server=on,wait=off`,
    // Network first, then disk; if nothing boots, SeaBIOS retries after 5 s instead of halting.
    '-boot',
    'menu=off,strict=off,reboot-timeout=5000',
  ];
  if (uefi)
    args.push(
      '-drive',
      `if=pflash,format=raw,unit=0,readonly=on,file=${noComma('OVMF code', opts.ovmfCode ?? OVMF.code)}`,
      '-drive',
      `if=pflash,format=raw,unit=1,file=${noComma('OVMF vars', files.vars)}`,
    );
  args.push(
    '-drive',
    // A lab disk is scratch: host caching, and zero runs of the image stored as holes, not data.
    `if=none,id=disk0,format=qcow2,cache=unsafe,detect-zeroes=unmap,discard=unmap,file=${noComma('disk', files.disk)}`,
    '-device',
    // UEFI: disk first, as on real UEFI servers. A blank disk is skipped, so a new machine falls
    // through to PXE; once installed it boots its disk. (iPXE's exit hands OVMF back to its network
    // entries, which would fetch ipxe.efi again.) BIOS: network first; iPXE's sanboot boots the disk.
    `virtio-blk-pci,drive=disk0,bootindex=${diskFirst ? 1 : 2}`,
  );
  node.nics.forEach((nic, i) => {
    const tap = opts.taps[i] as string;
    args.push('-netdev', `tap,id=net${i},ifname=${noComma('tap', tap)},script=no,downscript=no`);
    const device = [`virtio-net-pci`, `netdev=net${i}`, `mac=${nic.mac}`];
    if (i === 0) device.push(`bootindex=${diskFirst ? 2 : 1}`);
    if (uefi) device.push('romfile=');
    args.push('-device', device.join(','));
  });
  return args;
}

/**
 * The command that starts `node`'s QEMU in its namespace. `nice` and `ip netns exec` each exec the next
 * in place, so the child's pid is QEMU's, and every thread QEMU makes inherits the nice value.
 */
export function vmCommand(node: NodePlan, opts: StartVmOptions): string[] {
  const nice = opts.nice ?? 0;
  if (!Number.isInteger(nice) || nice < 0 || nice > 19)
    throw new Error(`nice ${nice} for ${node.name} is not a whole number from 0 to 19`);
  return [
    ...(nice > 0 ? ['nice', '-n', String(nice)] : []),
    'ip',
    'netns',
    'exec',
    opts.namespace,
    opts.qemu ?? QEMU,
    ...qemuArgs(node, opts),
  ];
}

export interface StartVmOptions extends QemuOptions {
  /** Network namespace holding the taps. */
  readonly namespace: string;
  readonly diskSize?: string;
  readonly qemu?: string;
  /** How long to wait for QEMU to write its pidfile. */
  readonly startTimeoutMs?: number;
}

/** A lab machine that would not start or stopped: QEMU's own words and the console tail are in the message. */
export class VmError extends UserError {
  constructor(
    message: string,
    readonly node: string,
    hint?: string,
  ) {
    super(message, hint);
    this.name = 'VmError';
  }
}

/**
 * Creates the node's disk (and UEFI variable store) when missing, then starts QEMU inside the namespace,
 * detached in its own process group with stdio to files. Resolves with QEMU's pid once it is running.
 */
export async function startVm(node: NodePlan, opts: StartVmOptions): Promise<number> {
  const files = vmFiles(opts.stateDir, node.name);
  mkdirSync(opts.stateDir, { recursive: true });
  if (!existsSync(files.disk))
    await (
      await import('execa')
    ).execa('qemu-img', ['create', '-q', '-f', 'qcow2', files.disk, opts.diskSize ?? '10G']);
  if (node.firmware === 'uefi' && !existsSync(files.vars)) copyFileSync(OVMF.vars, files.vars);
  const stale = readPid(files.pidfile);
  if (stale !== undefined && vmRunning(stale))
    throw new VmError(`${node.name} is already running (pid ${stale})`, node.name);
  // The console of this boot only: the console watchdog counts its bytes, and a failed start's
  // message shows its tail. A pidfile left by a killed QEMU would be taken for this one's.
  rmSync(files.serial, { force: true });
  rmSync(files.pidfile, { force: true });

  const out = openSync(files.stdout, 'w');
  const err = openSync(files.stderr, 'w');
  const [command, ...args] = vmCommand(node, opts);
  const child = spawn(command!, args, {
    detached: true,
    stdio: ['ignore', out, err],
  });
  closeSync(out);
  closeSync(err);
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  child.on('error', () => (exited = -1));
  child.unref();

  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  while (Date.now() < deadline) {
    if (exited !== undefined) break;
    const pid = readPid(files.pidfile);
    if (pid !== undefined) return pid;
    await new Promise((r) => setTimeout(r, 50));
  }
  const why = tailSerial(files.stderr, 10) || `no pidfile after ${opts.startTimeoutMs ?? 10_000} ms`;
  if (child.pid !== undefined && exited === undefined) await stopVm(child.pid);
  const console = tailSerial(files.serial, 15);
  throw new VmError(
    `QEMU for ${node.name} did not start (${opts.accel}): ${why}${console ? `\n--- last lines of ${files.serial}\n${console}` : ''}`,
    node.name,
    opts.accel === 'kvm' ? 'try `--accel tcg` (software emulation)' : `QEMU's log: ${files.stderr}`,
  );
}

/** Whether QEMU runs under this pid (not a zombie). */
export const vmRunning = processRunning;

/** Stops a machine: SIGTERM to its process group, SIGKILL after `timeoutMs`. */
export function stopVm(pid: number, timeoutMs = 5000): Promise<void> {
  return stopProcess(pid, timeoutMs, 'QEMU');
}

/** The last `lines` lines of a serial log, without terminal escapes; '' when the file does not exist. */
export function tailSerial(path: string, lines = 20): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return '';
  }
  const clean = text
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1bc/g, '')
    .replace(/\r\n?/g, '\n')
    // eslint-disable-next-line no-control-regex
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
  return clean
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-lines)
    .join('\n');
}
