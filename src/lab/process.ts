// The lab's background processes by pid file: QEMU machines, the boot server, console watchdogs.
// Each is started detached and stopped here: SIGTERM to its process group, SIGKILL if it lingers.
import { readFileSync } from 'node:fs';

/** The pid recorded in `pidfile`, or undefined when it is missing or not a pid. */
export function readPid(pidfile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidfile, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** True while `pid` is a live process (a zombie waiting to be reaped counts as gone). */
export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  // A detached child (QEMU, the boot server) leads its own process group: signal the group, else the process.
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, sig);
      return;
    } catch {
      // already gone, or not a group leader
    }
  }
}

/** SIGTERM (QEMU and the boot server exit cleanly on it), SIGKILL after `timeoutMs`. Resolves once the process is gone; a dead pid is fine. */
export async function stopProcess(pid: number, timeoutMs = 5000, what = 'process'): Promise<void> {
  if (!processRunning(pid)) return;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (processRunning(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (!processRunning(pid)) return;
  signal(pid, 'SIGKILL');
  const hard = Date.now() + 5000;
  while (processRunning(pid) && Date.now() < hard) await new Promise((r) => setTimeout(r, 50));
  if (processRunning(pid)) throw new Error(`${what} pid ${pid} survived SIGKILL`);
}
