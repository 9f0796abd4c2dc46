// The lab's host reaches the node network (the API VIP and every node address) through the
// control-plane nodes' provisioning addresses: this host's kernel has no 802.1Q, so it cannot join
// the tagged node VLAN, and the nodes forward (ip_forward, set by the Kubernetes stage). On a real
// rack the bootstrap host reaches it through the ToRs' gateway instead.
import { execa } from 'execa';
import { hostLink } from '../lab.js';
import { controlPlaneOrder } from '../../kube/kubeadm-render.js';
import type { Plan } from '../../plan/index.js';
import type { RegionContext } from '../../apply/context.js';
import type { Phase } from '../../apply/phase.js';

interface Facts {
  readonly missing: readonly { readonly cidr: string; readonly argv: readonly string[] }[];
}

function routes(plan: Plan): { cidr: string; argv: string[] }[] {
  const dev = hostLink(plan).name;
  const hops = controlPlaneOrder(plan).map((n) => n.provisioning.address);
  return plan.racks.map((r) => ({
    cidr: r.node.cidr,
    argv:
      hops.length === 1
        ? ['route', 'replace', r.node.cidr, 'via', hops[0]!, 'dev', dev]
        : ['route', 'replace', r.node.cidr, ...hops.flatMap((h) => ['nexthop', 'via', h, 'dev', dev])],
  }));
}

export const labApiRoutePhase: Phase<RegionContext, Facts> = {
  id: 'lab-api-route',
  title: 'Lab: this host routes the node network through the control-plane nodes',
  async observe(ctx) {
    const plan = ctx.prepared().plan;
    const missing = [];
    for (const r of routes(plan)) {
      const shown = await execa('ip', ['route', 'show', r.cidr], { reject: false });
      const want = r.argv.filter((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
      if (!want.every((hop) => shown.stdout.includes(`via ${hop} `))) missing.push(r);
    }
    return { missing };
  },
  shouldRun: (f) => f.missing.length > 0,
  skipReason: () => 'the node network is routed through the control-plane nodes',
  actions: (f) => f.missing.map((r) => ({ target: 'this host', text: `ip ${r.argv.join(' ')}` })),
  async run(_ctx, _actions, facts) {
    for (const r of facts.missing) await execa('ip', [...r.argv]);
  },
};
