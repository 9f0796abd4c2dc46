// The lab's rack network: a namespace with the bridge, one tap per NIC (and where the kernel has
// them, a switch-side bond per node and the node VLAN), this host's link into it, and IPv6 router
// advertisements on the bridge (src/lab/router-adverts.ts).
import { execa } from 'execa';
import { createLabNetwork, labNetwork } from '../netns.js';
import { ensureHostLink, hostLink, labNet, namespaceExists } from '../lab.js';
import { ensureRouterAdverts, routerAdvertsRunning } from '../router-adverts.js';
import type { RegionContext } from '../../apply/context.js';
import type { Phase } from '../../apply/phase.js';

interface Facts {
  readonly namespace: string;
  readonly hasNamespace: boolean;
  readonly hasHostLink: boolean;
  readonly hasRouterAdverts: boolean;
}

export const labNetworkPhase: Phase<RegionContext, Facts> = {
  id: 'lab-network',
  title: 'Lab network (namespace, bridge, taps, host link)',
  async observe(ctx) {
    const plan = ctx.prepared().plan;
    const link = hostLink(plan);
    const namespace = labNetwork(plan, plan.region.name).namespace;
    return {
      namespace,
      hasNamespace: await namespaceExists(namespace),
      hasHostLink: (await execa('ip', ['link', 'show', link.name], { reject: false })).exitCode === 0,
      hasRouterAdverts: routerAdvertsRunning(ctx.state),
    };
  },
  shouldRun: (f) => !f.hasNamespace || !f.hasHostLink || !f.hasRouterAdverts,
  skipReason: (f) => `network namespace ${f.namespace}, the host link and its router advertisements are up`,
  actions(f, ctx) {
    const plan = ctx.prepared().plan;
    const net = labNetwork(plan, plan.region.name);
    const link = hostLink(plan);
    return [
      ...(f.hasNamespace
        ? []
        : [
            {
              target: 'this host',
              text: `create network namespace ${net.namespace}: bridge ${net.bridge.name}, ${net.nodes.reduce((n, p) => n + p.taps.length, 0)} taps`,
            },
          ]),
      { target: 'this host', text: `host link ${link.name} ${link.address} into ${net.namespace}` },
      ...(f.hasRouterAdverts
        ? []
        : [
            {
              target: 'this host',
              text: `IPv6 router advertisements (radvd) on ${net.bridge.name}, no prefix, no default route`,
            },
          ]),
    ];
  },
  async run(ctx) {
    const plan = ctx.prepared().plan;
    const net = await labNet(plan);
    for (const l of net.limitations)
      ctx.emit({ kind: 'log', code: 'lab.step', phase: 'lab-network', message: `note: ${l}` });
    await createLabNetwork(net);
    await ensureHostLink(plan, net, (message) =>
      ctx.emit({ kind: 'warning', code: 'lab.step', phase: 'lab-network', message }),
    );
    await ensureRouterAdverts(net, ctx.state);
  },
};
