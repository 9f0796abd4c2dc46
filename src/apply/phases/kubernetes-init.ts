// The first control plane: kubeadm init on the init server (recorded in the plan: it never moves),
// with the API VIP as the control-plane endpoint and in the certificates; its admin.conf is kept
// in the state folder (0600) for every later phase, kubectl and `region kubeconfig`.
import { kubeadmFacts, kubeadmInit, type KubeadmFacts } from '../../kube/kubeadm.js';
import { kubeadmConfig } from '../../kube/kubeadm-render.js';
import { nodeHosts, readyNodes } from '../../kube/hosts.js';
import {
  hasKubeconfig,
  kubeadmInputs,
  kubeArtifacts,
  kubeconfigPath,
  kubeLog,
  saveKubeconfig,
  secretsOf,
} from '../../kube/support.js';
import { UserError } from '../../errors.js';
import type { RegionContext } from '../context.js';
import type { Phase } from '../phase.js';

interface Facts {
  readonly distribution: 'k3s' | 'kubeadm';
  /** undefined: the init server is not ssh-ready (failed earlier). */
  readonly init: KubeadmFacts | undefined;
  readonly kubeconfig: boolean;
}

const ID = 'kubernetes-init';

export const kubernetesInitPhase: Phase<RegionContext, Facts> = {
  id: ID,
  title: 'First control plane (kubeadm init, API VIP in the certificates)',
  async observe(ctx) {
    const plan = ctx.prepared().plan;
    if (plan.kubernetes.distribution !== 'kubeadm')
      return { distribution: 'k3s', init: undefined, kubeconfig: false };
    const init = readyNodes(ctx).find((n) => n.name === plan.kubernetes.initServer);
    return {
      distribution: 'kubeadm',
      init: init ? await kubeadmFacts(nodeHosts(ctx).get(init)) : undefined,
      kubeconfig: hasKubeconfig(ctx),
    };
  },
  shouldRun: (f) => f.distribution === 'k3s' || f.init === undefined || !f.init.admin || !f.kubeconfig,
  skipReason: (_f, ctx) =>
    `${ctx.prepared().plan.kubernetes.initServer} runs the control plane; kubeconfig at ${kubeconfigPath(ctx.state.path)}`,
  actions(f, ctx) {
    const k = ctx.prepared().plan.kubernetes;
    if (f.distribution === 'k3s')
      return [
        { target: k.initServer, text: 'install K3s from the airgap folder (not available in this build)' },
      ];
    return [
      {
        target: k.initServer,
        text: f.init?.admin
          ? `fetch admin.conf into ${kubeconfigPath(ctx.state.path)}`
          : `kubeadm init Kubernetes ${k.version}, endpoint ${k.apiVip}:6443, then fetch admin.conf`,
      },
    ];
  },
  async run(ctx, _actions, facts) {
    const prepared = ctx.prepared();
    const plan = prepared.plan;
    if (facts.distribution === 'k3s')
      throw new UserError(
        'the k3s distribution cannot be installed by this build of civostack: its install phases need the K3s release artifacts, which this build was not tested with',
        'set kubernetes.distribution: kubeadm (upstream Kubernetes, built with `civostack kube artifacts`)',
      );
    if (!facts.init)
      throw new UserError(
        `${plan.kubernetes.initServer}, the init server, is not SSH-ready: the cluster cannot start`,
      );
    const node = plan.nodes.find((n) => n.name === plan.kubernetes.initServer)!;
    const artifacts = await kubeArtifacts(ctx);
    const inputs = kubeadmInputs(ctx, artifacts);
    const secrets = secretsOf(ctx, 'kubeadm/token', 'kubeadm/certificate-key');
    const admin = await kubeadmInit(
      nodeHosts(ctx).get(node),
      { content: kubeadmConfig(plan, node, inputs), secrets },
      facts.init,
      kubeLog(ctx, ID),
      ctx.signal,
    );
    const path = saveKubeconfig(ctx, admin);
    kubeLog(ctx, ID)(`kubeconfig written to ${path} (server https://${plan.kubernetes.apiVip}:6443)`);
  },
};
