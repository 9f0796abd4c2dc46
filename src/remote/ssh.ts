// Running commands on nodes over SSH (ssh2), trusting only the host keys the installer reported:
// no trust-on-first-use, so a node answering with another key is refused, not remembered.
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';

export interface SshTarget {
  readonly host: string;
  readonly port?: number;
  readonly username: string;
  readonly privateKeyFile: string;
  /** OpenSSH public key lines ("ssh-ed25519 AAAA… comment") the host must present one of. */
  readonly knownHostKeys: readonly string[];
  readonly timeoutMs?: number;
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class HostKeyMismatch extends Error {}

/** The base64 blob of an OpenSSH public key line: what a host presents during key exchange. */
export function keyBlob(line: string): string | undefined {
  return line.trim().split(/\s+/)[1];
}

export function sshExec(target: SshTarget, command: string): Promise<ExecResult> {
  const allowed = new Set(target.knownHostKeys.map(keyBlob).filter((b): b is string => b !== undefined));
  return new Promise((resolve, reject) => {
    const conn = new ssh2.Client();
    let presented: string | undefined;
    const timer = setTimeout(() => {
      conn.end();
      reject(new Error(`ssh ${target.host}: no answer within ${target.timeoutMs ?? 15000} ms`));
    }, target.timeoutMs ?? 15000);
    conn
      .on('ready', () => {
        conn.exec(command, (err, stream) => {
          if (err) {
            clearTimeout(timer);
            conn.end();
            reject(err);
            return;
          }
          let stdout = '';
          let stderr = '';
          stream.on('data', (d: Buffer) => (stdout += d.toString()));
          stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          stream.on('close', (code: number | null) => {
            clearTimeout(timer);
            conn.end();
            resolve({ code: code ?? -1, stdout, stderr });
          });
        });
      })
      .on('error', (err) => {
        clearTimeout(timer);
        reject(
          presented !== undefined && !allowed.has(presented)
            ? new HostKeyMismatch(`${target.host} presented a host key the installer did not report`)
            : err,
        );
      })
      .connect({
        host: target.host,
        port: target.port ?? 22,
        username: target.username,
        privateKey: readFileSync(target.privateKeyFile),
        readyTimeout: target.timeoutMs ?? 15000,
        hostVerifier: (key: Buffer) => {
          presented = key.toString('base64');
          return allowed.has(presented);
        },
      });
  });
}
