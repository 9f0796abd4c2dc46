// What the fabric lab starts from, taken from a prepared region: each ToR's and border router's
// rendered frr.conf, the region's secrets (transit passwords), and the switches' sshd settings
// (civostack's key authorised, host keys pinned where `region diff --live` looks for them).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hostKeysPath } from '../../live/index.js';
import type { Prepared } from '../../pipeline.js';
import { readSecrets, SSH_KEY } from '../../state/index.js';
import type { FabricEvent, FabricUpOptions } from './fabric.js';

export function fabricUpInputs(p: Prepared, onEvent: (e: FabricEvent) => void): FabricUpOptions {
  const secrets = readSecrets(p.state, p.plan, p.manifestDir).values;
  const configs = new Map(
    p.plan.switches
      .filter((s) => s.role !== 'mgmt')
      .map((s) => [s.name, p.tree.get(`switches/${s.name}/frr.conf`)!.content] as const),
  );
  const pinned = new Map(
    p.plan.switches.map((s) => [
      s.name,
      s.ssh.hostKeyFile ? resolve(p.manifestDir, s.ssh.hostKeyFile) : hostKeysPath(p.state, s.name),
    ]),
  );
  return {
    plan: p.plan,
    configs,
    secret: (name) => {
      const v = secrets.get(name);
      if (v === undefined) throw new Error(`internal: secret ${name} was not loaded`);
      return v;
    },
    onEvent,
    ssh: {
      authorizedKey: secrets.get(`${SSH_KEY}.pub`)!,
      keyDir: join(p.state.path, 'lab', 'fabric'),
      pinnedPath: (device: string) => pinned.get(device)!,
      // A key file the manifest names and that exists is the operator's: never overwritten.
      mayPin: (device: string) =>
        !p.plan.switches.find((s) => s.name === device)?.ssh.hostKeyFile || !existsSync(pinned.get(device)!),
    },
  };
}

/** The switches the lab's sshd cannot log in as (it serves root only), each with its fix. */
export function unservedSshUsers(p: Prepared): string[] {
  return p.plan.switches
    .filter((x) => x.role !== 'mgmt' && x.ssh.user !== 'root')
    .map(
      (s) =>
        `${s.name} logs in as ${s.ssh.user} (ssh.user), which the lab's sshd does not have: set ssh.user: root for region diff --live to reach it`,
    );
}
