// The console watchdog: a machine that starts under KVM yet writes nothing on its serial console
// within a bound is taken to be one this host's KVM cannot run (the probe in accel.ts passed, but
// some hosts still run the lab's guests so badly that their kernel never prints). The `lab vm` hook
// is short-lived (a BMC emulator calls it and waits for its answer), so each KVM start spawns a
// small detached process, `lab vm <node> watch-console`, that watches the console and exits: at the
// machine's first byte, when the machine is stopped or started again, or once it has restarted it
// under TCG (vm-hook.ts). `lab down` stops any still watching.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../state/atomic.js';
import { processRunning, readPid, stopProcess } from './process.js';

const CLI = fileURLToPath(new URL('../../bin/civostack', import.meta.url));

/**
 * How long a machine started under KVM has to write its first byte on the serial console. A BIOS
 * machine prints nothing before the installer's kernel (SeaBIOS and iPXE have no serial console
 * here), so this covers firmware, DHCP, iPXE and fetching the kernel and initramfs from the boot
 * server of a loaded host; a machine wrongly taken for silent only runs slower (under TCG).
 */
export const CONSOLE_BOUND_MS = 60_000;

/** What one watchdog watches: the QEMU process a start made, and how it was started. */
export interface ConsoleWatch {
  /** QEMU's pid: another start or a stop ends the watch. */
  readonly pid: number;
  /** The device that start booted first: a restart under TCG boots it again. */
  readonly boot: 'pxe' | 'disk';
  /** When QEMU was running (ms since the epoch); the bound counts from here. */
  readonly since: number;
  readonly boundMs: number;
  /** Who started it (recorded with the restart in the audit log). */
  readonly via: string;
}

export interface WatchdogFiles {
  readonly watch: string;
  readonly pidfile: string;
  readonly log: string;
}

export function watchdogFiles(vmDir: string, node: string): WatchdogFiles {
  const base = join(vmDir, node);
  return {
    watch: `${base}.console-watch.json`,
    pidfile: `${base}.watchdog.pid`,
    log: `${base}.watchdog.log`,
  };
}

export function readWatch(vmDir: string, node: string): ConsoleWatch | undefined {
  try {
    return JSON.parse(readFileSync(watchdogFiles(vmDir, node).watch, 'utf8')) as ConsoleWatch;
  } catch {
    return undefined;
  }
}

/** Stops the node's watchdog if one runs (it holds nothing that needs a clean exit). */
export async function stopWatchdog(vmDir: string, node: string): Promise<boolean> {
  const files = watchdogFiles(vmDir, node);
  const pid = readPid(files.pidfile);
  rmSync(files.watch, { force: true });
  if (pid === undefined || !processRunning(pid)) {
    rmSync(files.pidfile, { force: true });
    return false;
  }
  await stopProcess(pid, 1000, 'console watchdog');
  rmSync(files.pidfile, { force: true });
  return true;
}

/**
 * Records what to watch and starts the node's watchdog, detached, in its own process group (after
 * stopping one still watching an earlier start of the machine). Returns the watchdog's pid.
 */
export async function spawnWatchdog(
  stateDir: string,
  vmDir: string,
  node: string,
  watch: ConsoleWatch,
): Promise<number> {
  await stopWatchdog(vmDir, node);
  const files = watchdogFiles(vmDir, node);
  writeFileAtomic(files.watch, `${JSON.stringify(watch)}\n`);
  const log = openSync(files.log, 'a');
  const child = spawn(
    process.execPath,
    [CLI, 'lab', 'vm', node, 'watch-console', '--state-dir', stateDir, '--via', watch.via],
    { detached: true, stdio: ['ignore', log, log], env: { ...process.env, NO_COLOR: '1' } },
  );
  closeSync(log);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start the console watchdog of ${node}`);
  writeFileAtomic(files.pidfile, `${child.pid}\n`);
  return child.pid;
}

export type ConsoleVerdict =
  /** The machine wrote to its serial console in time. */
  | 'spoke'
  /** Its QEMU stopped or another start replaced it: nothing to judge. */
  | 'gone'
  /** Nothing on the console within the bound. */
  | 'silent'
  /** Nothing on the console yet, and the lab's verdict turned to TCG (another machine was silent). */
  | 'verdict-tcg';

export interface AwaitConsoleOptions {
  readonly serial: string;
  readonly qemuPidfile: string;
  readonly watch: ConsoleWatch;
  /** True once the lab's machines are to run under TCG (read at every poll). */
  readonly verdictIsTcg: () => boolean;
  readonly now?: () => number;
  readonly pollMs?: number;
}

function consoleBytes(serial: string): number {
  try {
    return statSync(serial).size;
  } catch {
    return 0;
  }
}

/** Watches the machine's serial console until it speaks, goes away, or the bound passes. */
export async function awaitConsole(o: AwaitConsoleOptions): Promise<ConsoleVerdict> {
  const now = o.now ?? Date.now;
  const deadline = o.watch.since + o.watch.boundMs;
  for (;;) {
    if (!processRunning(o.watch.pid) || readPid(o.qemuPidfile) !== o.watch.pid) return 'gone';
    if (consoleBytes(o.serial) > 0) return 'spoke';
    if (o.verdictIsTcg()) return 'verdict-tcg';
    if (now() >= deadline) return 'silent';
    await new Promise((r) => setTimeout(r, o.pollMs ?? 250));
  }
}

/** Removes the watch once its watchdog is done with it (a newer watch of the node is left alone). */
export function endWatch(vmDir: string, node: string, watch: ConsoleWatch): void {
  const files = watchdogFiles(vmDir, node);
  if (readWatch(vmDir, node)?.pid === watch.pid) rmSync(files.watch, { force: true });
  if (readPid(files.pidfile) === process.pid) rmSync(files.pidfile, { force: true });
}
