// SSH ready: every installed node answers SSH with the host key its installer reported (pinned:
// any other key is refused), it is the node we think, and cloud-init has finished its first boot.
import { readFileSync } from 'node:fs';
import { isInstalled, NodeStore, readNodeStates } from '../../boot/index.js';
import { nodeSshHost } from '../../kube/hosts.js';
import type { SshHost } from '../../remote/index.js';
import type { NodePlan } from '../../plan/index.js';
import { sshPrivateKeyPath } from '../../state/index.js';
import { failNode, type RegionContext } from '../context.js';
import { BOOT_SERVICE } from '../outputs.js';
import { sleep, type Phase } from '../phase.js';
import { minutes, nodeStateReporter, reportNotices } from './wait-installed.js';

/**
 * What makes a node ssh-ready: it answers SSH with the host key its installer reported, it is the
 * node we think (its seed's node.json), and cloud-init has finished the first boot. Before that,
 * cloud-init may still restart sshd (set_passwords rewrites sshd_config), so a login that worked
 * once could be refused a second later.
 */
export const READY_CHECK = 'test -e /var/lib/cloud/instance/boot-finished && cat /etc/civostack/node.json';

interface Facts {
  readonly nodes: readonly string[];
}

export const sshReadyPhase: Phase<RegionContext, Facts> = {
  id: 'ssh-ready',
  title: 'SSH with the pinned host key on every installed node',
  observe(ctx) {
    const { nodes: states } = readNodeStates(ctx.state);
    const nodes = ctx
      .prepared()
      .plan.nodes.filter(
        (n) =>
          !ctx.failures.has(n.name) && isInstalled(states[n.name]) && states[n.name]?.state !== 'ssh-ready',
      )
      .map((n) => n.name);
    return Promise.resolve({ nodes });
  },
  shouldRun: (f) => f.nodes.length > 0,
  skipReason: () => 'no installed node is waiting for SSH',
  actions: (f, ctx) => {
    const plan = ctx.prepared().plan;
    return f.nodes.map((node) => ({
      target: node,
      text: `ssh root@${plan.nodes.find((n) => n.name === node)!.provisioning.address} with the host key its installer reported, until cloud-init finished (timeout ${minutes(ctx.nodeTimeoutMs)})`,
    }));
  },
  async run(ctx, actions) {
    const plan = ctx.prepared().plan;
    const store = new NodeStore(ctx.state, plan.nodes);
    const privateKey = readFileSync(sshPrivateKeyPath(ctx.state));
    const report = nodeStateReporter(ctx);
    const started = ctx.now();
    const waiting = new Set(actions.map((a) => a.target));
    // One SSH connection per node, kept from one check to the next: a handshake is seconds of an
    // emulated CPU that is still running cloud-init (measured: 22 s of a lab node's first boot went
    // to sshd when every check opened its own connection). A connection that closes is opened again.
    const hosts = new Map<string, { keys: string; host: SshHost }>();
    const hostFor = (node: NodePlan, keys: readonly string[]): SshHost => {
      const name = node.name;
      const known = hosts.get(name);
      if (known && known.keys === keys.join('\n')) return known.host;
      if (known) void known.host.close();
      const host = nodeSshHost({ node, privateKey, hostKeys: keys, probe: true });
      hosts.set(name, { keys: keys.join('\n'), host });
      return host;
    };
    const done = (name: string): void => {
      waiting.delete(name);
      void hosts.get(name)?.host.close();
      hosts.delete(name);
    };
    try {
      while (waiting.size > 0) {
        reportNotices(ctx);
        const { nodes: states } = readNodeStates(ctx.state);
        await Promise.all(
          [...waiting].map(async (name) => {
            const node = plan.nodes.find((n) => n.name === name)!;
            const s = states[name];
            if (s) report(name, s);
            if (s?.state === 'ssh-ready') return void done(name);
            if (!s?.hostKeys?.length) {
              failNode(
                ctx,
                name,
                'its installer reported no SSH host key: it cannot be trusted; reinstall it',
              );
              return void done(name);
            }
            try {
              const host = hostFor(node, s.hostKeys);
              const r = await host.exec(['sh', '-c', READY_CHECK], { allowFailure: true });
              const id = r.code === 0 ? (JSON.parse(r.stdout) as { node?: string }).node : undefined;
              if (id === name) {
                report(name, store.apply(name, { kind: 'ssh-ready' }));
                done(name);
              }
            } catch {
              // Not up yet (booting, sshd starting): tried again in a few seconds.
            }
            if (waiting.has(name) && ctx.now() - started > ctx.nodeTimeoutMs) {
              const why = ctx.diagnose?.(name);
              failNode(
                ctx,
                name,
                `not SSH-ready within ${minutes(ctx.nodeTimeoutMs)} (last: ${s.state})${why ? `\n${why}` : ''}`,
              );
              done(name);
            }
          }),
        );
        if (waiting.size === 0) break;
        await ctx.outputOf(BOOT_SERVICE)?.ensureRunning(ctx);
        await sleep(ctx.pollMs.ssh, ctx.signal);
      }
    } finally {
      await Promise.all([...hosts.values()].map((h) => h.host.close()));
    }
  },
};
