// Which accelerator the lab's machines run under. KVM counts only when the installer's own kernel,
// started with the exact -machine and -cpu flags a lab machine gets, writes to the serial console
// within a short bound: some hosts expose /dev/kvm and pass QEMU's own start-up, yet abort on the
// first MSR write with `-cpu host` ("failed to set MSR 0x10a") or run the guest so badly that its
// kernel prints nothing. The verdict is kept per boot of the host (keyed by its boot id).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../state/atomic.js';

export type Accel = 'kvm' | 'tcg';
export type AccelChoice = Accel | 'auto';
export type Firmware = 'bios' | 'uefi';

export const QEMU = 'qemu-system-x86_64';

/** The accelerator, machine type and CPU a lab machine of this firmware gets: one place for both the VMs and the probe. */
export function machineArgs(firmware: Firmware, accel: Accel): string[] {
  return [
    '-machine',
    firmware === 'uefi' ? 'q35' : 'pc',
    '-accel',
    accel,
    // Under TCG, `max` (less 5-level paging) hands the guest AES-NI, PCLMULQDQ, SSSE3 and BMI2, which
    // QEMU runs as native helpers: TLS and signing in the guest's Go programs (etcd, the API server,
    // kubelet) ran 1.4-1.7x faster than on the default qemu64 model, measured in a TCG guest here.
    ...(accel === 'kvm' ? ['-cpu', 'host'] : ['-cpu', 'max,la57=off']),
  ];
}

export interface AccelVerdict {
  readonly accel: Accel;
  /** Why, in words: what the probe saw. */
  readonly reason: string;
}

export interface ProbeOptions {
  readonly kernel: string;
  readonly initrd: string;
  readonly firmwares: readonly Firmware[];
  readonly qemu?: string;
  readonly kvmDevice?: string;
  /** How long the guest's kernel has to write its first line. */
  readonly boundMs?: number;
}

/** True once the guest's kernel has spoken on the serial console (its banner or any kernel line). */
const KERNEL_SPOKE = /Linux version|\[\s*\d+\.\d+\]/;

/**
 * Boots the installer's kernel with the lab's flags for `accel` and resolves with what happened:
 * `ok` when the kernel wrote to the serial console within the bound, else QEMU's own message or
 * "no console output". The VM is always stopped before this resolves.
 */
export function probeBoot(
  firmware: Firmware,
  accel: Accel,
  o: ProbeOptions,
): Promise<{ readonly ok: boolean; readonly detail: string }> {
  const args = [
    ...machineArgs(firmware, accel),
    ...['-m', '256', '-smp', '1', '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot'],
    ...['-serial', 'stdio', '-monitor', 'none'],
    ...[
      '-kernel',
      o.kernel,
      '-initrd',
      o.initrd,
      '-append',
      'console=ttyS0,115200n8 panic=-1 civostack.probe=1',
    ],
  ];
  const bound = o.boundMs ?? 20_000;
  return new Promise((resolve) => {
    const child = spawn(o.qemu ?? QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let done = false;
    const finish = (ok: boolean, detail: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      resolve({ ok, detail });
    };
    const timer = setTimeout(
      () => finish(false, `the guest's kernel wrote nothing on the serial console in ${bound / 1000} s`),
      bound,
    );
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString('latin1');
      if (KERNEL_SPOKE.test(out)) finish(true, 'the guest kernel booted');
    });
    child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
    child.on('error', (e) => finish(false, e.message));
    // 'close', not 'exit': 'exit' can come before the last of stderr has been read, and then
    // QEMU's own message (why it aborted) would be lost.
    child.on('close', (code, sig) => {
      const first = err.trim().split('\n').find(Boolean);
      finish(false, first ?? `QEMU exited (${sig ?? code}) before the guest kernel spoke`);
    });
  });
}

/** This boot of the host: a verdict recorded under another boot id is not trusted. */
function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

interface CachedVerdict extends AccelVerdict {
  readonly bootId: string;
  readonly probe: string;
}

function verdictFile(cacheDir: string): string {
  return join(cacheDir, 'accel.json');
}

/** What the probe covers: a new kernel, QEMU or set of machine types probes again. */
function probeKey(o: ProbeOptions): string {
  return JSON.stringify([o.qemu ?? QEMU, o.kernel, o.initrd, [...o.firmwares].sort()]);
}

function readVerdict(cacheDir: string, key: string): AccelVerdict | undefined {
  try {
    const v = JSON.parse(readFileSync(verdictFile(cacheDir), 'utf8')) as CachedVerdict;
    if (v.bootId !== bootId() || v.probe !== key || (v.accel !== 'kvm' && v.accel !== 'tcg'))
      return undefined;
    return { accel: v.accel, reason: v.reason };
  } catch {
    return undefined;
  }
}

/** Records a verdict for this boot of the host. */
export function recordVerdict(cacheDir: string, o: ProbeOptions, v: AccelVerdict): void {
  mkdirSync(cacheDir, { recursive: true });
  const entry: CachedVerdict = { ...v, bootId: bootId(), probe: probeKey(o) };
  writeFileAtomic(verdictFile(cacheDir), JSON.stringify(entry, null, 2) + '\n');
}

/**
 * The accelerator for the lab: `tcg` and `kvm` are taken as asked (kvm still needs /dev/kvm);
 * `auto` probes once per boot of the host and caches the verdict in `cacheDir`.
 */
export async function chooseAccel(
  choice: AccelChoice,
  cacheDir: string,
  o: ProbeOptions,
): Promise<AccelVerdict & { readonly cached: boolean }> {
  const device = o.kvmDevice ?? '/dev/kvm';
  if (choice === 'tcg') return { accel: 'tcg', reason: 'asked for (--accel tcg)', cached: false };
  if (choice === 'kvm') {
    if (!existsSync(device))
      return { accel: 'tcg', reason: `--accel kvm, but ${device} does not exist`, cached: false };
    return { accel: 'kvm', reason: 'asked for (--accel kvm)', cached: false };
  }
  if (!existsSync(device)) return { accel: 'tcg', reason: `${device} does not exist`, cached: false };
  const key = probeKey(o);
  const known = readVerdict(cacheDir, key);
  if (known) return { ...known, cached: true };
  const results = await Promise.all(o.firmwares.map(async (f) => ({ f, r: await probeBoot(f, 'kvm', o) })));
  const bad = results.find((x) => !x.r.ok);
  const verdict: AccelVerdict = bad
    ? {
        accel: 'tcg',
        reason: `KVM does not run the lab's ${bad.f === 'uefi' ? 'q35' : 'pc'} machine: ${bad.r.detail}`,
      }
    : { accel: 'kvm', reason: "the installer's kernel boots under KVM" };
  recordVerdict(cacheDir, o, verdict);
  return { ...verdict, cached: false };
}
