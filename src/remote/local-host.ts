// This machine as a Host (the bootstrap host, the lab), optionally inside a network namespace:
// the same exec/upload contract as a node over SSH, run with `ip netns exec` when a namespace is given.
import { spawn } from 'node:child_process';
import type { ExecOptions, ExecResult, Host, UploadOptions, UploadResult, UploadSource } from './host.js';
import { shellQuote, withSudo, writeInput } from './host.js';
import { loggedExec, type HostLog } from './log.js';
import { uploadByExec } from './upload.js';

export interface LocalHostOptions {
  readonly name?: string;
  /** Run every command inside this network namespace (`ip netns exec`; needs root). */
  readonly namespace?: string;
  readonly log?: HostLog;
}

export class LocalHost implements Host {
  readonly name: string;
  readonly #o: LocalHostOptions;

  constructor(options: LocalHostOptions = {}) {
    this.name = options.name ?? (options.namespace ? `local:${options.namespace}` : 'local');
    this.#o = options;
  }

  get logPath(): string | undefined {
    return this.#o.log?.path;
  }

  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const isRoot = process.getuid?.() === 0;
    const inner = withSudo(argv, options.sudo, isRoot);
    const full = this.#o.namespace ? ['ip', 'netns', 'exec', this.#o.namespace, ...inner] : inner;
    if (this.#o.namespace && !isRoot) full.unshift('sudo', '-n', '--');
    return loggedExec(this.name, this.#o.log, shellQuote(full), options, () => run(full, options));
  }

  upload(path: string, source: UploadSource, options: UploadOptions = {}): Promise<UploadResult> {
    return uploadByExec(this, path, source, options);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function run(argv: readonly string[], options: ExecOptions): Promise<ExecResult> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(file ?? 'true', args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.signal && { signal: options.signal }),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.stdin.on('error', () => undefined); // a command that exits without reading its input
    child.on('error', (e) => reject(e));
    child.on('close', (code, signal) => {
      if (options.signal?.aborted) return reject(options.signal.reason as Error);
      resolve({
        code: code ?? 128,
        stdout: Buffer.concat(out).toString(),
        stderr: `${Buffer.concat(err).toString()}${signal ? `killed by ${signal}\n` : ''}`,
      });
    });
    writeInput(child.stdin, options.input);
  });
}
