// A node over SSH (ssh2): a small pool of connections per host, each carrying several sessions,
// kept alive with SSH keepalives; connects retried with backoff; host keys pinned.
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2 from 'ssh2';
import type { ExecOptions, ExecResult, Host, UploadOptions, UploadResult, UploadSource } from './host.js';
import { shellQuote, withSudo, writeInput } from './host.js';
import { fingerprint, HostKeyChanged, keyType, pinnedKeys } from './host-key.js';
import { loggedExec, type HostLog } from './log.js';
import { uploadByExec } from './upload.js';

export interface SshHostOptions {
  /** The node's name (errors and logs say it). */
  readonly name: string;
  readonly address: string;
  readonly port?: number;
  readonly username: string;
  /** The private key (PEM/OpenSSH), read by the caller from the state folder's secret file. */
  readonly privateKey: Buffer | string;
  /** OpenSSH public key lines the host must present one of: what its installer reported. */
  readonly knownHostKeys: readonly string[];
  readonly log?: HostLog;
  /** Connection attempts before giving up (default 4); a changed host key or refused login is never retried. */
  readonly connectAttempts?: number;
  /** First retry delay; doubled each attempt, with jitter (default 500 ms). */
  readonly backoffMs?: number;
  /** Handshake timeout per attempt (default 15 s). */
  readonly readyTimeoutMs?: number;
  readonly keepaliveMs?: number;
  /** Connections kept to this host (default 2) and sessions on each (default 8; OpenSSH's MaxSessions is 10). */
  readonly maxConnections?: number;
  readonly sessionsPerConnection?: number;
}

interface Pooled {
  readonly ready: Promise<ssh2.Client>;
  sessions: number;
  closed: boolean;
}

/** Errors not worth retrying: the host is there and said no. */
function permanent(err: unknown): boolean {
  if (err instanceof HostKeyChanged) return true;
  const level = (err as { level?: string }).level;
  return level === 'client-authentication';
}

export class SshHost implements Host {
  readonly name: string;
  readonly #o: SshHostOptions;
  readonly #pool: Pooled[] = [];
  readonly #waiting: (() => void)[] = [];
  #closed = false;

  constructor(options: SshHostOptions) {
    this.name = options.name;
    this.#o = options;
  }

  get logPath(): string | undefined {
    return this.#o.log?.path;
  }

  get #where(): string {
    return `${this.#o.address}:${this.#o.port ?? 22}`;
  }

  exec(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const command = shellQuote(withSudo(argv, options.sudo, this.#o.username === 'root'));
    return loggedExec(this.name, this.#o.log, command, options, () => this.#session(command, options));
  }

  upload(path: string, source: UploadSource, options: UploadOptions = {}): Promise<UploadResult> {
    return uploadByExec(this, path, source, options);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const conns = this.#pool.splice(0);
    await Promise.all(
      conns.map(async (p) => {
        p.closed = true;
        const c = await p.ready.catch(() => undefined);
        c?.end();
      }),
    );
    for (const w of this.#waiting.splice(0)) w();
  }

  async #session(command: string, options: ExecOptions): Promise<ExecResult> {
    options.signal?.throwIfAborted();
    const slot = await this.#acquire(options.signal);
    try {
      const client = await slot.ready;
      return await new Promise<ExecResult>((resolve, reject) => {
        client.exec(command, (err, stream) => {
          if (err) return reject(new Error(`${this.name}: cannot open a session: ${err.message}`));
          const out: Buffer[] = [];
          const errOut: Buffer[] = [];
          let code: number | undefined;
          let signalName: string | undefined;
          const abort = (): void => {
            stream.signal('KILL');
            stream.close();
          };
          options.signal?.addEventListener('abort', abort, { once: true });
          stream.on('data', (d: Buffer) => out.push(d));
          stream.stderr.on('data', (d: Buffer) => errOut.push(d));
          stream.on('exit', (c: number | null, s?: string) => {
            code = c ?? undefined;
            signalName = s ?? undefined;
          });
          stream.on('close', () => {
            options.signal?.removeEventListener('abort', abort);
            if (options.signal?.aborted) return reject(options.signal.reason as Error);
            const stderr = Buffer.concat(errOut).toString();
            resolve({
              code: code ?? (signalName ? 128 : 255),
              stdout: Buffer.concat(out).toString(),
              stderr: signalName ? `${stderr}killed by SIG${signalName}\n` : stderr,
            });
          });
          writeInput(stream, options.input);
        });
      });
    } finally {
      this.#release(slot);
    }
  }

  /** The least busy connection with a free session; a new one when all are full; else a wait. */
  async #acquire(signal?: AbortSignal): Promise<Pooled> {
    const max = this.#o.maxConnections ?? 2;
    const per = this.#o.sessionsPerConnection ?? 8;
    for (;;) {
      if (this.#closed) throw new Error(`${this.name}: host closed`);
      const free = this.#pool
        .filter((p) => !p.closed && p.sessions < per)
        .sort((a, b) => a.sessions - b.sessions)[0];
      if (free) {
        free.sessions++;
        return free;
      }
      if (this.#pool.length < max) {
        const p: Pooled = { ready: this.#connect(), sessions: 1, closed: false };
        this.#pool.push(p);
        p.ready.catch(() => this.#drop(p));
        return p;
      }
      await new Promise<void>((resolve, reject) => {
        const abort = (): void => reject(signal?.reason as Error);
        signal?.addEventListener('abort', abort, { once: true });
        this.#waiting.push(() => {
          signal?.removeEventListener('abort', abort);
          resolve();
        });
      });
    }
  }

  #release(p: Pooled): void {
    p.sessions--;
    this.#waiting.shift()?.();
  }

  #drop(p: Pooled): void {
    p.closed = true;
    const i = this.#pool.indexOf(p);
    if (i >= 0) this.#pool.splice(i, 1);
    this.#waiting.shift()?.();
  }

  async #connect(): Promise<ssh2.Client> {
    const attempts = this.#o.connectAttempts ?? 4;
    const base = this.#o.backoffMs ?? 500;
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      if (i > 0) {
        const delay = base * 2 ** (i - 1) * (0.75 + Math.random() * 0.5);
        this.#o.log?.write(
          `connect ${this.#where} failed (${(last as Error).message}); retry ${i + 1}/${attempts} in ${Math.round(delay)} ms`,
        );
        await sleep(delay);
      }
      if (this.#closed) break;
      try {
        return await this.#connectOnce();
      } catch (err) {
        last = err;
        if (permanent(err)) break;
      }
    }
    const err = last as Error;
    if (err instanceof HostKeyChanged) throw err;
    throw new Error(
      `${this.name} (${this.#where}): ${err.message}${attempts > 1 && !permanent(err) ? ` (after ${attempts} attempts)` : ''}`,
      { cause: err },
    );
  }

  #connectOnce(): Promise<ssh2.Client> {
    const pinned = pinnedKeys(this.#o.knownHostKeys);
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      let presented: Buffer | undefined;
      let ready = false;
      client
        .on('ready', () => {
          ready = true;
          resolve(client);
        })
        .on('error', (err) => {
          if (ready) return; // a live connection's error also closes it: handled by 'close'
          if (presented && !pinned.blobs.has(presented.toString('base64')))
            reject(
              new HostKeyChanged(
                this.name,
                this.#where,
                `${fingerprint(presented)} (${keyType(presented)})`,
                pinned.fingerprints,
              ),
            );
          else reject(err);
        })
        .on('close', () => {
          if (ready) this.#dropClient(client);
        })
        .connect({
          host: this.#o.address,
          port: this.#o.port ?? 22,
          username: this.#o.username,
          privateKey: this.#o.privateKey,
          readyTimeout: this.#o.readyTimeoutMs ?? 15_000,
          keepaliveInterval: this.#o.keepaliveMs ?? 10_000,
          keepaliveCountMax: 3,
          hostVerifier: (key: Buffer) => {
            presented = key;
            return pinned.blobs.has(key.toString('base64'));
          },
        });
    });
  }

  /** A connection that closed under us leaves the pool; the next session opens a fresh one. */
  #dropClient(client: ssh2.Client): void {
    for (const p of [...this.#pool])
      void p.ready.then(
        (c) => c === client && this.#drop(p),
        () => undefined,
      );
  }
}
