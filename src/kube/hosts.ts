// The nodes as the Kubernetes phases reach them: one pooled SSH host per node (root, the host key
// its installer reported, a log per node in the state folder), all under the run's one limiter.
// Built once per run and closed at its end; a test gives the phases its own NodeHosts instead.
import { readFileSync } from 'node:fs';
import { readNodeStates } from '../boot/index.js';
import { UserError } from '../errors.js';
import type { NodePlan } from '../plan/index.js';
import { fileHostLog, SshHost, type Host, type Limiter } from '../remote/index.js';
import { sshPrivateKeyPath, type StateDir } from '../state/index.js';

export interface NodeHosts {
  /** The run's limiter (`--concurrency`): every fan-out over these hosts goes through it. */
  readonly limiter: Limiter;
  get(node: NodePlan): Host;
  close(): Promise<void>;
}

/** How long an SSH handshake to a node that answered before may take (a busy emulated CPU). */
export const NODE_READY_TIMEOUT_MS = 15_000;

/**
 * The one way civostack opens SSH to a node: root, civostack's key, only the host keys its
 * installer reported. `probe`: ssh-ready's repeated check of a node still booting, one attempt
 * with a short handshake (the next check comes in seconds anyway).
 */
export function nodeSshHost(o: {
  readonly node: Pick<NodePlan, 'name' | 'provisioning'>;
  readonly privateKey: Buffer;
  readonly hostKeys: readonly string[];
  readonly log?: ReturnType<typeof fileHostLog>;
  readonly probe?: boolean;
}): SshHost {
  return new SshHost({
    name: o.node.name,
    address: o.node.provisioning.address,
    username: 'root',
    privateKey: o.privateKey,
    knownHostKeys: o.hostKeys,
    ...(o.log ? { log: o.log } : {}),
    ...(o.probe
      ? { readyTimeoutMs: PROBE_READY_TIMEOUT_MS, connectAttempts: 1 }
      : { readyTimeoutMs: NODE_READY_TIMEOUT_MS }),
  });
}

/** ssh-ready's handshake limit for one check. */
const PROBE_READY_TIMEOUT_MS = 8000;

export function sshNodeHosts(o: { readonly state: StateDir; readonly limiter: Limiter }): NodeHosts {
  const hosts = new Map<string, SshHost>();
  let privateKey: Buffer | undefined; // read on first use: a dry run of a fresh region has none yet
  return {
    limiter: o.limiter,
    get(node) {
      let host = hosts.get(node.name);
      if (host) return host;
      const keys = readNodeStates(o.state).nodes[node.name]?.hostKeys ?? [];
      if (keys.length === 0)
        throw new UserError(`${node.name}: its installer reported no SSH host key; reinstall it`);
      host = nodeSshHost({
        node,
        privateKey: (privateKey ??= readFileSync(sshPrivateKeyPath(o.state))),
        hostKeys: keys,
        log: fileHostLog(o.state.path, node.name),
      });
      hosts.set(node.name, host);
      return host;
    },
    async close() {
      await Promise.all([...hosts.values()].map((h) => h.close()));
      hosts.clear();
    },
  };
}
