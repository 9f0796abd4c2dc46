// The first control plane: kubeadm init on the init server (recorded in the plan: it never moves),
// with the API VIP as the control-plane endpoint and in the certificates; its admin.conf is kept
// in the state folder (0600) for every later phase, kubectl and `region kubeconfig`.
import { kubeconfigPath } from '../../kube/kubeconfig.js';
import { UserError } from '../../errors.js';
import type { RegionContext } from '../context.js';
import { distributionOf } from '../distribution.js';
import { hasKubeconfig, kubeLog, readyNodes, saveKubeconfig } from '../kubernetes.js';
import type { Phase } from '../phase.js';

interface Facts {
  /** undefined: the init server is not ssh-ready (failed earlier). */
  readonly init: { readonly joined: boolean; readonly admin: boolean } | undefined;
  readonly kubeconfig: boolean;
}

const ID = 'kubernetes-init';

export const kubernetesInitPhase: Phase<RegionContext, Facts> = {
  id: ID,
  title: 'First control plane (kubeadm init or the first K3s server, API VIP in the certificates)',
  async observe(ctx) {
    const plan = ctx.prepared().plan;
    const init = readyNodes(ctx).find((n) => n.name === plan.kubernetes.initServer);
    return {
      init: init ? await distributionOf(ctx).initFacts(ctx.hosts.get(init), init) : undefined,
      kubeconfig: hasKubeconfig(ctx),
    };
  },
  shouldRun: (f) => f.init === undefined || !f.init.admin || !f.kubeconfig,
  skipReason: (_f, ctx) =>
    `${ctx.prepared().plan.kubernetes.initServer} runs the control plane; kubeconfig at ${kubeconfigPath(ctx.state.path)}`,
  actions(f, ctx) {
    const k = ctx.prepared().plan.kubernetes;
    const fetch = `fetch the admin kubeconfig into ${kubeconfigPath(ctx.state.path)}`;
    if (f.init?.admin) return [{ target: k.initServer, text: fetch }];
    return [
      {
        target: k.initServer,
        text: `${distributionOf(ctx).initText(ctx)}, then ${fetch}`,
      },
    ];
  },
  async run(ctx, _actions, facts) {
    const plan = ctx.prepared().plan;
    if (!facts.init)
      throw new UserError(
        `${plan.kubernetes.initServer}, the init server, is not SSH-ready: the cluster cannot start`,
      );
    const node = plan.nodes.find((n) => n.name === plan.kubernetes.initServer)!;
    const admin = await distributionOf(ctx).init(ctx, ctx.hosts.get(node), node, kubeLog(ctx, ID));
    const path = saveKubeconfig(ctx, admin);
    kubeLog(ctx, ID)(`kubeconfig written to ${path} (server https://${plan.kubernetes.apiVip}:6443)`);
  },
};
