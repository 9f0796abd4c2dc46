// Boot-next disk: once a node is installed, its BMC is told to boot the disk next, so the reboot
// after the install (and any later one) does not depend on the boot server answering.
import { readNodeStates } from '../../boot/index.js';
import { failNode, type RegionContext } from '../context.js';
import { eachAction, type Phase } from '../phase.js';

interface Facts {
  readonly nodes: readonly string[];
}

export const bootDiskPhase: Phase<RegionContext, Facts> = {
  id: 'boot-disk',
  title: 'Boot-next disk on every installed node',
  async observe(ctx) {
    const { nodes: states } = readNodeStates(ctx.state);
    const out: string[] = [];
    for (const n of ctx.prepared().plan.nodes) {
      const s = states[n.name]?.state;
      if (ctx.failures.has(n.name) || (s !== 'installed' && s !== 'booted-from-disk')) continue;
      const driver = ctx.power.driver(n.name);
      if (!driver) continue; // powered by hand: the boot server's iPXE script boots its disk
      const status = await driver.status(ctx.signal).catch(() => undefined);
      if (status?.bootNext !== 'disk') out.push(n.name);
    }
    return { nodes: out };
  },
  shouldRun: (f) => f.nodes.length > 0,
  skipReason: () =>
    'no installed node needs it (none installed yet, SSH-ready, powered by hand, or already set)',
  actions: (f) => f.nodes.map((node) => ({ target: node, text: 'boot-next disk' })),
  async run(ctx, actions) {
    await eachAction(
      ctx,
      'boot-disk',
      actions,
      async (a) => {
        try {
          await ctx.power.driver(a.target)!.bootNext('disk', ctx.signal);
        } catch (err) {
          if (ctx.signal.aborted) throw err;
          failNode(ctx, a.target, `boot-next disk: ${(err as Error).message}`);
        }
      },
      ctx.limiter,
    );
  },
};
