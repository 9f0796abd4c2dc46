// The first control plane: kubeadm init on the init server (recorded in the plan: it never moves),
// with the API VIP as the control-plane endpoint and in the certificates; its admin.conf is kept
// in the state folder (0600) for every later phase, kubectl and `region kubeconfig`.
import { kubeadmFacts, kubeadmInit, type KubeadmFacts } from '../../kube/kubeadm.js';
import { k3sActive, k3sInstall, k3sKubeconfig } from '../../kube/k3s.js';
import { kubeadmConfig } from '../../kube/kubeadm-render.js';
import { kubeconfigPath } from '../../kube/kubeconfig.js';
import {
  hasKubeconfig,
  kubeadmInputs,
  kubeLog,
  readyNodes,
  saveKubeconfig,
  secretsOf,
} from '../kubernetes.js';
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
  title: 'First control plane (kubeadm init or the first K3s server, API VIP in the certificates)',
  async observe(ctx) {
    const plan = ctx.prepared().plan;
    const init = readyNodes(ctx).find((n) => n.name === plan.kubernetes.initServer);
    const host = init ? ctx.hosts.get(init) : undefined;
    if (plan.kubernetes.distribution === 'k3s') {
      const active = host && init ? await k3sActive(host, init) : false;
      return {
        distribution: 'k3s',
        init: host ? { joined: active, admin: active, partial: false } : undefined,
        kubeconfig: hasKubeconfig(ctx),
      };
    }
    return {
      distribution: 'kubeadm',
      init: host ? await kubeadmFacts(host) : undefined,
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
        text:
          f.distribution === 'k3s'
            ? `install K3s ${k.version} (server, cluster-init) from the airgap folder, then ${fetch}`
            : `kubeadm init Kubernetes ${k.version}, endpoint ${k.apiVip}:6443, then ${fetch}`,
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
    const host = ctx.hosts.get(node);
    const log = kubeLog(ctx, ID);
    let admin: string;
    if (facts.distribution === 'k3s') {
      if (!facts.init.admin) {
        log(`${node.name}: K3s install script (offline)`);
        await k3sInstall(host, node, ctx.signal);
      }
      admin = await k3sKubeconfig(host, plan.kubernetes.apiVip);
    } else {
      const inputs = kubeadmInputs(ctx, await ctx.artifacts());
      const secrets = secretsOf(ctx, 'kubeadm/token', 'kubeadm/certificate-key');
      admin = await kubeadmInit(
        host,
        { content: kubeadmConfig(plan, node, inputs), secrets },
        facts.init,
        log,
        ctx.signal,
      );
    }
    const path = saveKubeconfig(ctx, admin);
    log(`kubeconfig written to ${path} (server https://${plan.kubernetes.apiVip}:6443)`);
  },
};
