// Per-host logs in the state folder (`logs/<host>.log`, 0600): every command, its exit and its
// output, with secrets already replaced by `***` before anything reaches the disk.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { redact, RemoteCommandError, type ExecOptions, type ExecResult } from './host.js';

export interface HostLog {
  /** The file it appends to, for an error's hint; absent for a log kept elsewhere. */
  readonly path?: string;
  write(line: string): void;
}

/** Output kept per command in the log: the end of it, where the error usually is. */
const MAX_OUTPUT = 16 * 1024;

export function hostLogDir(statePath: string): string {
  return join(statePath, 'logs');
}

/** `<state>/logs/<host>.log`; the name is reduced to characters safe in a file name. */
export function hostLogPath(statePath: string, host: string): string {
  return join(hostLogDir(statePath), `${host.replace(/[^A-Za-z0-9._-]/g, '_')}.log`);
}

/** A log appending to the host's file; `now` is injected so tests can fix the clock. */
export function fileHostLog(statePath: string, host: string, now: () => Date = () => new Date()): HostLog {
  mkdirSync(hostLogDir(statePath), { recursive: true, mode: 0o700 });
  const path = hostLogPath(statePath, host);
  return {
    path,
    write(line: string) {
      const stamp = now().toISOString();
      const text = line
        .split('\n')
        .map((l) => `${stamp} ${l}`)
        .join('\n');
      appendFileSync(path, `${text}\n`, { mode: 0o600 });
    },
  };
}

/**
 * Runs one command with its log lines around it: `$ <command>` before, output and exit after, every
 * line redacted; a non-zero exit becomes a RemoteCommandError unless the caller allows it.
 */
export async function loggedExec(
  host: string,
  log: HostLog | undefined,
  shown: string,
  options: ExecOptions,
  run: () => Promise<ExecResult>,
): Promise<ExecResult> {
  const what = redact(options.logAs ?? shown, options.redact);
  log?.write(`$ ${what}`);
  const started = performance.now();
  let result: ExecResult;
  try {
    result = await run();
  } catch (err) {
    log?.write(
      `error after ${Math.round(performance.now() - started)} ms: ${redact((err as Error).message, options.redact)}`,
    );
    throw err;
  }
  const clean = {
    code: result.code,
    stdout: options.secretOutput ? '' : redact(result.stdout, options.redact),
    stderr: redact(result.stderr, options.redact),
  };
  const lines = [
    ...(options.secretOutput
      ? [`| (${Buffer.byteLength(result.stdout)} bytes of secret output, not logged)`]
      : tail(clean.stdout, '|')),
    ...tail(clean.stderr, '!'),
  ];
  log?.write([...lines, `exit ${result.code} in ${Math.round(performance.now() - started)} ms`].join('\n'));
  if (result.code !== 0 && !options.allowFailure) throw new RemoteCommandError(host, what, clean, log?.path);
  return result;
}

function tail(s: string, mark: string): string[] {
  const t = s.length > MAX_OUTPUT ? `…${s.slice(-MAX_OUTPUT)}` : s;
  return t === ''
    ? []
    : t
        .replace(/\n$/, '')
        .split('\n')
        .map((l) => `${mark} ${l}`);
}
