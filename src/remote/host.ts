// The one contract every phase runs commands through: a Host runs argv (never a shell string),
// uploads files atomically, and says which host failed and why.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { UserError } from '../errors.js';

export interface ExecOptions {
  /** Run as root: `sudo -n` for a non-root login, nothing for root. */
  readonly sudo?: boolean;
  /** Secret values replaced by `***` wherever the command, its input or its output is logged. */
  readonly redact?: readonly string[];
  /**
   * Bytes written to the command's stdin, then closed: one piece, or pieces written in order (a
   * header before a large file, with no copy of the file). Secrets go here, never into argv.
   */
  readonly input?: string | Uint8Array | readonly (string | Uint8Array)[];
  readonly signal?: AbortSignal;
  /** Resolve with a non-zero code instead of rejecting with a RemoteCommandError. */
  readonly allowFailure?: boolean;
  /** What the log says instead of the command line (a long script, an upload). */
  readonly logAs?: string;
  /**
   * The command prints a secret (a kubeconfig with its client key): the log gets its size, never
   * its output, and a failure's error carries stderr only.
   */
  readonly secretOutput?: boolean;
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A file's content: bytes in memory, or a local file read (and hashed) before it is sent. */
export type UploadSource = string | Uint8Array | { readonly file: string };

export interface UploadOptions {
  readonly mode?: number;
  readonly sudo?: boolean;
  readonly redact?: readonly string[];
  readonly signal?: AbortSignal;
}

export interface UploadResult {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
  /** 'skipped': the remote file already had this sha256 (and mode): nothing was written. */
  readonly status: 'written' | 'skipped';
}

export interface Host {
  /** The node's name, as in the manifest: what errors and logs say. */
  readonly name: string;
  /** The file this host's commands and their output are logged to, for an error's hint; absent when not logged to a file. */
  readonly logPath?: string | undefined;
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  upload(path: string, source: UploadSource, options?: UploadOptions): Promise<UploadResult>;
  close(): Promise<void>;
}

/**
 * A command that ran on a host and exited non-zero (or was killed): an answer from the host,
 * reported as such (not as a bug in civostack); the hint names the host's log when there is one.
 */
export class RemoteCommandError extends UserError {
  constructor(
    readonly host: string,
    readonly command: string,
    readonly result: ExecResult,
    logPath?: string,
  ) {
    const tail = result.stderr.trim().split('\n').slice(-3).join(' / ');
    super(
      `${host}: \`${command}\` exited ${result.code}${tail ? `: ${tail}` : ''}`,
      logPath ? `the command's whole output is in ${logPath}` : undefined,
    );
    this.name = 'RemoteCommandError';
  }
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** POSIX sh quoting: each argument arrives as one word, whatever it contains. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((a) => (a !== '' && SAFE.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Replaces every secret (longest first, so a secret containing another is hidden whole). */
export function redact(text: string, secrets: readonly string[] | undefined): string {
  if (!secrets?.length) return text;
  let out = text;
  for (const s of [...secrets].filter((x) => x.length > 0).sort((a, b) => b.length - a.length))
    out = out.split(s).join('***');
  return out;
}

/** The argv actually run: wrapped in `sudo -n --` when root is wanted and the login is not root. */
export function withSudo(argv: readonly string[], sudo: boolean | undefined, loginIsRoot: boolean): string[] {
  return sudo && !loginIsRoot ? ['sudo', '-n', '--', ...argv] : [...argv];
}

/** Writes `input` to a command's stdin in order, then ends it. */
export function writeInput(
  stdin: { write(chunk: string | Uint8Array): unknown; end(): unknown },
  input: ExecOptions['input'],
): void {
  const pieces =
    input === undefined ? [] : typeof input === 'string' || input instanceof Uint8Array ? [input] : input;
  for (const piece of pieces) stdin.write(piece);
  stdin.end();
}

export async function sourceBytes(source: UploadSource): Promise<Buffer> {
  if (typeof source === 'string') return Buffer.from(source);
  if (source instanceof Uint8Array) return Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  return readFile(source.file);
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
