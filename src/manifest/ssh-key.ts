// OpenSSH public keys as a manifest names them (sshAuthorizedKeyFiles, a switch's hostKeyFile): the
// files' text goes into every node's seed (0644, served to the nodes), so a file that is anything but
// public keys (a private key, a shadow file given by mistake) must never get there.

/** Key types OpenSSH writes into a .pub file (ssh-keygen -t, and FIDO keys). */
const KEY_TYPES = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ssh-dss',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

export type PublicKeysParse =
  | { readonly ok: true; readonly keys: readonly string[] }
  | { readonly ok: false; readonly line: number; readonly reason: string; readonly privateKey: boolean };

/**
 * Public key lines, one per line ("type base64 [comment]"), blank lines and # comments allowed. The
 * blob must be base64 whose first SSH string is the line's type, as OpenSSH writes it.
 */
export function parsePublicKeys(text: string): PublicKeysParse {
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----|^PuTTY-User-Key-File-/m.test(text)) {
    const line = text.split('\n').findIndex((l) => /PRIVATE KEY-----|^PuTTY-User-Key-File-/.test(l)) + 1;
    return { ok: false, line, reason: 'is an OpenSSH private key', privateKey: true };
  }
  const keys: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const reason = keyLineProblem(line);
    if (reason !== undefined) return { ok: false, line: i + 1, reason, privateKey: false };
    keys.push(line);
  }
  if (keys.length === 0) return { ok: false, line: 1, reason: 'holds no public key', privateKey: false };
  return { ok: true, keys };
}

/** Why one line is not an OpenSSH public key, or undefined. The line's text is never repeated. */
export function keyLineProblem(line: string): string | undefined {
  const [type, blob] = line.split(/\s+/);
  if (type === undefined || !KEY_TYPES.has(type))
    return 'does not start with a known OpenSSH key type (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, …)';
  if (blob === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob) || blob.length % 4 !== 0)
    return `has no base64 key after ${type}`;
  const bytes = Buffer.from(blob, 'base64');
  const n = bytes.length >= 4 ? bytes.readUInt32BE(0) : -1;
  const inner = n >= 0 && 4 + n < bytes.length ? bytes.subarray(4, 4 + n).toString('latin1') : undefined;
  if (inner !== type) return `has a key that is not a ${type} key`;
  return undefined;
}
