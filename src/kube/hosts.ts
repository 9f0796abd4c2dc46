// The nodes as Kubernetes phases reach them: one pooled SSH host per ssh-ready node (root, the
// host key its installer reported, a log per node in the state folder), all under one limiter.
import { readFileSync } from 'node:fs';
import { readNodeStates } from '../boot/index.js';
import type { RegionContext } from '../apply/context.js';
import { UserError } from '../errors.js';
import type { NodePlan } from '../plan/index.js';
import { fileHostLog, Limiter, SshHost } from '../remote/index.js';
import { sshPrivateKeyPath } from '../state/index.js';

export interface NodeHosts {
  readonly limiter: Limiter;
  get(node: NodePlan): SshHost;
}

const cache = new WeakMap<object, NodeHosts>();

/** Nodes the Kubernetes phases work on: ssh-ready, not failed earlier in this run. */
export function readyNodes(ctx: RegionContext): NodePlan[] {
  const { nodes: states } = readNodeStates(ctx.state);
  return ctx
    .prepared()
    .plan.nodes.filter((n) => !ctx.failures.has(n.name) && states[n.name]?.state === 'ssh-ready');
}

export function nodeHosts(ctx: RegionContext): NodeHosts {
  const known = cache.get(ctx);
  if (known) return known;
  const hosts = new Map<string, SshHost>();
  const limiter = new Limiter(ctx.concurrency ?? 30);
  let privateKey: Buffer | undefined; // read on first use: a dry run of a fresh region has none yet
  const made: NodeHosts = {
    limiter,
    get(node) {
      let host = hosts.get(node.name);
      if (host) return host;
      const keys = readNodeStates(ctx.state).nodes[node.name]?.hostKeys ?? [];
      if (keys.length === 0)
        throw new UserError(`${node.name}: its installer reported no SSH host key; reinstall it`);
      host = new SshHost({
        name: node.name,
        address: node.provisioning.address,
        username: 'root',
        privateKey: (privateKey ??= readFileSync(sshPrivateKeyPath(ctx.state))),
        knownHostKeys: keys,
        log: fileHostLog(ctx.state.path, node.name),
        readyTimeoutMs: 15_000,
      });
      hosts.set(node.name, host);
      return host;
    },
  };
  ctx.defer(async () => {
    await Promise.all([...hosts.values()].map((h) => h.close()));
    cache.delete(ctx);
  });
  cache.set(ctx, made);
  return made;
}
