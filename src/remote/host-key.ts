// Pinned host keys: the keys a node's installer reported are the only ones accepted (no
// trust-on-first-use), and a refusal names the host and both fingerprints, as OpenSSH prints them.
import { createHash } from 'node:crypto';
import { UserError } from '../errors.js';

/** The base64 blob of an OpenSSH public key line: what a host presents during key exchange. */
export function keyBlob(line: string): string | undefined {
  return line.trim().split(/\s+/)[1];
}

/** `SHA256:…` of a key blob, the form `ssh-keygen -lf` and OpenSSH's warnings use. */
export function fingerprint(blob: Buffer | string): string {
  const bytes = typeof blob === 'string' ? Buffer.from(blob, 'base64') : blob;
  return `SHA256:${createHash('sha256').update(bytes).digest('base64').replace(/=+$/, '')}`;
}

/** The key type written inside a blob (its first SSH string), e.g. "ssh-ed25519". */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1');
}

export class HostKeyChanged extends UserError {
  constructor(
    readonly host: string,
    readonly address: string,
    readonly presented: string,
    readonly expected: readonly string[],
  ) {
    super(
      `${host} (${address}) presented host key ${presented}, not the one its installer reported ` +
        `(${expected.join(', ') || 'none'}): refusing to connect`,
      'if the node was reinstalled, let its installer report the new keys; otherwise something else answers at this address',
    );
    this.name = 'HostKeyChanged';
  }
}

/** The set of accepted blobs and their fingerprints, from OpenSSH public key lines. */
export function pinnedKeys(lines: readonly string[]): { blobs: Set<string>; fingerprints: string[] } {
  const blobs = new Set(lines.map(keyBlob).filter((b): b is string => b !== undefined && b !== ''));
  return { blobs, fingerprints: [...blobs].map((b) => fingerprint(b)) };
}
