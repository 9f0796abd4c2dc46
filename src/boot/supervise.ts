// The helper processes the boot service supervises (dnsmasq, nginx): started in the foreground in
// their own process group, stopped in order, and taken over when a killed supervisor left one behind.
import { execa, type ResultPromise } from 'execa';
import { readFileSync } from 'node:fs';

export interface Supervised {
  readonly child: ResultPromise<typeof OPTIONS>;
  /** Resolves with the exit code when the process exits. */
  readonly exited: Promise<number>;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
}

const OPTIONS = {
  reject: false,
  stdin: 'ignore',
  stdout: 'ignore',
  stderr: 'pipe',
  cleanup: true,
  // Its own process group: a Ctrl-C in the terminal reaches us, and we stop it in order.
  detached: true,
} as const;

export function spawnSupervised(binary: string, args: readonly string[]): Supervised {
  const child = execa(binary, args, OPTIONS);
  const exited = child.then((r) => r.exitCode ?? -1);
  return {
    child,
    exited,
    async stop() {
      if (child.exitCode !== undefined && child.exitCode !== null) return;
      child.kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
      if (!done) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/**
 * A helper left running by a supervisor that was killed outright (SIGKILL skips every cleanup)
 * still holds its ports: stops the process in `pidFile` if its command line still contains `marker` (its config file). */
export async function stopLeftover(pidFile: string, marker: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  const running = () => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
    } catch {
      return false;
    }
  };
  if (!Number.isInteger(pid) || pid <= 0 || !running()) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 50 && running(); i++) await sleep(100);
  if (running()) process.kill(pid, 'SIGKILL');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
