// Secrets: read from the files the manifest names, or generated once into the state folder
// (mode 0600). Values are handed to the renderer and never printed.
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ssh2 from 'ssh2';
import { UserError } from '../errors.js';
import type { Plan } from '../plan/index.js';
import { writeFileAtomic } from './atomic.js';
import type { StateDir } from './store.js';

export const SSH_KEY = 'ssh/civostack_ed25519';

export interface LoadedSecrets {
  readonly values: ReadonlyMap<string, string>;
  /** Files named by the manifest that others can read: worth a warning. */
  readonly looseFiles: readonly string[];
}

function secretPath(state: StateDir, name: string): string {
  if (!/^[a-z0-9/_.-]+$/i.test(name) || name.split('/').includes('..'))
    throw new Error(`internal: bad secret name ${name}`);
  return join(state.path, 'secrets', name);
}

function readOrCreate(path: string, create: () => string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const value = create();
    writeFileAtomic(path, `${value}\n`, 0o600);
    return value;
  }
}

/** A password FRR and every transit router accept: 32 URL-safe characters. */
function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}

export function loadSecrets(state: StateDir, plan: Plan, manifestDir: string): LoadedSecrets {
  const values = new Map<string, string>();
  const looseFiles: string[] = [];
  for (const secret of plan.secrets) {
    if (secret.name === SSH_KEY) continue;
    if (secret.source === 'file' && secret.file !== undefined) {
      const path = resolve(manifestDir, secret.file);
      let value: string;
      try {
        value = readFileSync(path, 'utf8').trim();
        if ((statSync(path).mode & 0o077) !== 0) looseFiles.push(path);
      } catch (err) {
        throw new UserError(
          `cannot read the secret ${secret.name} from ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      }
      if (value === '' || /\s/.test(value))
        throw new UserError(`${path} must hold one password without spaces`);
      values.set(secret.name, value);
    } else {
      values.set(secret.name, readOrCreate(secretPath(state, secret.name), generatePassword));
    }
  }
  const privatePath = secretPath(state, SSH_KEY);
  const publicPath = `${privatePath}.pub`;
  let publicKey: string;
  try {
    publicKey = readFileSync(publicPath, 'utf8').trim();
    readFileSync(privatePath);
  } catch {
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: `civostack@${plan.region.name}` });
    writeFileAtomic(privatePath, pair.private, 0o600);
    writeFileAtomic(publicPath, `${pair.public}\n`, 0o644);
    publicKey = pair.public.trim();
  }
  values.set(`${SSH_KEY}.pub`, publicKey);
  return { values, looseFiles };
}

export function sshPrivateKeyPath(state: StateDir): string {
  return secretPath(state, SSH_KEY);
}
