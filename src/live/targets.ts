// Which switches the live diff and the fabric phase reach, and how: the management address (or the
// manifest's ssh.address), the login, and the host keys they must present (pinned: the manifest's
// hostKeyFile, or the state folder's host-keys/<switch>.pub; never trust on first use).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { Prepared } from '../pipeline.js';
import { fingerprint, keyBlob, SshHost, type HostLog } from '../remote/index.js';
import { sshPrivateKeyPath, type StateDir } from '../state/index.js';

export interface SwitchTarget {
  readonly name: string;
  readonly role: 'tor' | 'border' | 'mgmt';
  readonly address: string;
  readonly port: number;
  readonly user: string;
  /** OpenSSH public key lines; the switch must present one of them. */
  readonly hostKeys: readonly string[];
  /** Where the pinned keys were read, for messages. */
  readonly hostKeyFile: string;
}

export interface Unreachable {
  readonly device: string;
  readonly reason: string;
}

/** Where the fabric lab (or an operator) records a switch's host key when the manifest names none. */
export function hostKeysPath(state: StateDir, device: string): string {
  return join(state.path, 'host-keys', `${device}.pub`);
}

/** The key lines of a known-hosts style file: `type base64 [comment]`, comments and blanks skipped. */
export function parseHostKeys(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .filter((l) => /^(ssh-|ecdsa-|sk-)/.test(l) && (keyBlob(l) ?? '') !== '');
}

/**
 * Every switch with a render to compare, with how to reach it; a switch without pinned host keys
 * is listed apart with why (it is not contacted: an unverified key would be trust on first use).
 */
export function switchTargets(p: Prepared): { targets: SwitchTarget[]; unreachable: Unreachable[] } {
  const targets: SwitchTarget[] = [];
  const unreachable: Unreachable[] = [];
  for (const sw of p.plan.switches) {
    const file = sw.ssh.hostKeyFile
      ? resolve(p.manifestDir, sw.ssh.hostKeyFile)
      : hostKeysPath(p.state, sw.name);
    if (!existsSync(file)) {
      unreachable.push({
        device: sw.name,
        reason: `no pinned SSH host key (${file} does not exist): set ssh.hostKeyFile in the manifest`,
      });
      continue;
    }
    const hostKeys = parseHostKeys(readFileSync(file, 'utf8'));
    if (hostKeys.length === 0) {
      unreachable.push({
        device: sw.name,
        reason: `${file} holds no OpenSSH public key line (e.g. "ssh-ed25519 AAAA… ${sw.name}")`,
      });
      continue;
    }
    targets.push({
      name: sw.name,
      role: sw.role,
      address: sw.ssh.address,
      port: sw.ssh.port,
      user: sw.ssh.user,
      hostKeys,
      hostKeyFile: file,
    });
  }
  return { targets, unreachable };
}

/** civostack's own SSH key, which every switch login must authorise. */
export function civostackKey(state: StateDir): Buffer {
  const path = sshPrivateKeyPath(state);
  if (!existsSync(path))
    throw new UserError(
      `civostack's SSH key does not exist yet (${path})`,
      'run `civostack region render` or `region up` once: it generates the key, whose .pub each switch login must authorise',
    );
  return readFileSync(path);
}

export function openSwitch(
  t: SwitchTarget,
  privateKey: Buffer,
  options: { log?: HostLog; connectAttempts?: number } = {},
): SshHost {
  return new SshHost({
    name: t.name,
    address: t.address,
    port: t.port,
    username: t.user,
    privateKey,
    knownHostKeys: t.hostKeys,
    connectAttempts: options.connectAttempts ?? 2,
    backoffMs: 300,
    readyTimeoutMs: 10_000,
    ...(options.log ? { log: options.log } : {}),
  });
}

/** "SHA256:… (file)": how a message names the keys a switch was expected to present. */
export function pinnedSummary(t: SwitchTarget): string {
  return `${t.hostKeys.map((k) => fingerprint(keyBlob(k)!)).join(', ')} from ${t.hostKeyFile}`;
}
