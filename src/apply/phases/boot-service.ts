// The boot service (HTTP boot server + dnsmasq) as a supervised phase: started here, kept running
// while later phases power and install the nodes, stopped when the run ends, however it ends.
import { readNodeStates } from '../../boot/index.js';
import { committedRegion, type RegionContext, type RunningBootService } from '../context.js';
import type { Phase } from '../phase.js';

interface Facts {
  readonly running: boolean;
  /** Nodes that still need a network boot. */
  readonly toInstall: readonly string[];
}

export const bootServicePhase: Phase<RegionContext, Facts, RunningBootService> = {
  id: 'boot-service',
  title: 'Boot service (HTTP boot server and dnsmasq)',
  async observe(ctx) {
    const { nodes } = readNodeStates(ctx.state);
    const toInstall = ctx
      .prepared()
      .plan.nodes.filter((n) => nodes[n.name]?.state !== 'ssh-ready' && !ctx.failures.has(n.name))
      .map((n) => n.name);
    return { running: await ctx.boot.running(), toInstall };
  },
  shouldRun: (f) => f.toInstall.length > 0,
  skipReason: () => 'every node is SSH-ready: no network boot needed',
  actions: (f, ctx) => [
    {
      target: 'this host',
      text: `${f.running ? 'supervise the running' : 'start the'} ${ctx.boot.describe(ctx)} for ${f.toInstall.length} node(s), until the run ends`,
    },
  ],
  async run(ctx) {
    committedRegion(ctx);
    const service = await ctx.boot.start(ctx);
    ctx.defer(async () => {
      await service.stop();
      ctx.emit({ kind: 'log', code: 'log', phase: 'boot-service', message: 'boot service stopped' });
    });
    return service;
  },
};
