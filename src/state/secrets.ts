// Secrets: read from the files the manifest names, or generated once into the state folder
// (mode 0600). Reading never writes: a secret that does not exist yet is generated in memory and
// returned as pending, and only `writeSecrets` (the pipeline's commit) puts it on disk.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ssh2 from 'ssh2';
import { UserError } from '../errors.js';
import { readBounded, SECRET_CAP } from '../manifest/index.js';
import type { Plan, SecretFormat } from '../plan/index.js';
import { writeFileAtomic } from './atomic.js';
import type { StateDir } from './store.js';

export const SSH_KEY = 'ssh/civostack_ed25519';

/** A secret generated in memory that the commit writes; `mode` 0644 only for the public SSH key. */
export interface PendingSecret {
  readonly name: string;
  readonly value: string;
  readonly mode: number;
}

export interface ReadSecrets {
  /** Every value the renderer needs (existing and pending), including `${SSH_KEY}.pub`. */
  readonly values: ReadonlyMap<string, string>;
  /** Generated now, not on disk yet. */
  readonly pending: readonly PendingSecret[];
  /** Files named by the manifest that others can read: worth a warning. */
  readonly looseFiles: readonly string[];
}

function secretPath(state: StateDir, name: string): string {
  if (!/^[a-z0-9/_.-]+$/i.test(name) || name.split('/').includes('..'))
    throw new Error(`internal: bad secret name ${name}`);
  return join(state.path, 'secrets', name);
}

function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return undefined;
  }
}

/** A password FRR and every transit router accept: 32 URL-safe characters. */
function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

const TOKEN_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

function fromAlphabet(length: number): string {
  // Rejection sampling keeps every character equally likely (256 is not a multiple of 36).
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 252 && out.length < length) out += TOKEN_ALPHABET[byte % 36];
    }
  }
  return out;
}

/** A generated value in the shape its consumer insists on. */
export function generateSecret(format: SecretFormat | undefined): string {
  switch (format) {
    case 'kubeadm-token': // kubeadm's bootstrap token: [a-z0-9]{6}.[a-z0-9]{16}
      return `${fromAlphabet(6)}.${fromAlphabet(16)}`;
    case 'hex32': // kubeadm's --certificate-key: 32 bytes, hex
      return randomBytes(32).toString('hex');
    case 'vrrp': // VRRP simple authentication carries at most 8 characters
      return fromAlphabet(8);
    case 'password':
    case undefined:
      return generatePassword();
  }
}

export function readSecrets(state: StateDir, plan: Plan, manifestDir: string): ReadSecrets {
  const values = new Map<string, string>();
  const pending: PendingSecret[] = [];
  const looseFiles: string[] = [];
  for (const secret of plan.secrets) {
    if (secret.name === SSH_KEY) continue;
    if (secret.source === 'file' && secret.file !== undefined) {
      const path = resolve(manifestDir, secret.file);
      // Bounded and non-blocking: a FIFO or a device put where the file was never hangs the run.
      const read = readBounded(path, SECRET_CAP);
      if (!read.ok) throw new UserError(`cannot read the secret ${secret.name}: ${path} ${read.reason}`);
      const value = read.text.trim();
      if ((statSync(path).mode & 0o077) !== 0) looseFiles.push(path);
      if (value === '' || /\s/.test(value))
        throw new UserError(`${path} must hold one password without spaces`);
      values.set(secret.name, value);
    } else {
      let value = readIfThere(secretPath(state, secret.name));
      if (value === undefined) {
        value = generateSecret(secret.format);
        pending.push({ name: secret.name, value, mode: 0o600 });
      }
      values.set(secret.name, value);
    }
  }
  const privateKey = readIfThere(secretPath(state, SSH_KEY));
  let publicKey = readIfThere(secretPath(state, `${SSH_KEY}.pub`));
  if (privateKey === undefined) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: `civostack@${plan.region.name}` });
    publicKey = pair.public.trim();
    pending.push({ name: SSH_KEY, value: pair.private, mode: 0o600 });
    pending.push({ name: `${SSH_KEY}.pub`, value: publicKey, mode: 0o644 });
  } else if (publicKey === undefined) {
    // A run killed between the two writes: the public half follows from the private one.
    const parsed = ssh2.utils.parseKey(privateKey);
    if (parsed instanceof Error) throw new UserError(`${secretPath(state, SSH_KEY)} is not an SSH key`);
    publicKey = `${parsed.type} ${parsed.getPublicSSH().toString('base64')} civostack@${plan.region.name}`;
    pending.push({ name: `${SSH_KEY}.pub`, value: publicKey, mode: 0o644 });
  }
  values.set(`${SSH_KEY}.pub`, publicKey!);
  return { values, pending, looseFiles };
}

/**
 * Writes generated secrets, private SSH key before its public half. One already on disk is never
 * replaced: another run made it meanwhile, and what was rendered with ours would not match.
 */
export function writeSecrets(state: StateDir, pending: readonly PendingSecret[]): void {
  for (const s of pending) {
    const path = secretPath(state, s.name);
    if (s.mode === 0o600 && existsSync(path))
      throw new UserError(
        `${path} appeared while civostack was rendering (another run?)`,
        'run the command again: it reads the secret that is there now',
      );
    writeFileAtomic(path, `${s.value.trim()}\n`, s.mode);
  }
}

export function sshPrivateKeyPath(state: StateDir): string {
  return secretPath(state, SSH_KEY);
}
