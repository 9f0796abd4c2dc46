// The kubeadm distribution's files, per node, from the Plan: pure and deterministic. What holds a
// secret (the bootstrap token, the certificate key, the VRRP password) says so, so diffs redact it.
import { createHash } from 'node:crypto';
import type { NodePlan, Plan } from '../plan/index.js';
import type { SecretValues } from '../render/secrets.js';
import { toYaml } from '../render/yaml.js';

export const KUBEADM_DIR = '/etc/civostack/kubeadm';
export const KUBEADM_CONFIG = `${KUBEADM_DIR}/kubeadm.yaml`;
export const PATCHES_DIR = `${KUBEADM_DIR}/patches`;

/**
 * kubeadm's probes kill a control-plane component whose health endpoint is slow: its startup probe
 * after 4 minutes of starting (24 × 10 s), its liveness probe after 80 s. A control plane that is
 * merely slow (a busy etcd disk, software emulation) then restarts in a loop: seen in the lab, an
 * API server still starting after 4 minutes killed and started again until kubeadm init's 20
 * minutes ran out. These patches give it 10 minutes to start and 5 minutes of failed liveness
 * checks: a hung component is still restarted.
 */
export function probePatches(): { path: string; content: string }[] {
  return ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((c) => ({
    path: `${PATCHES_DIR}/${c}+strategic.yaml`,
    content: `# civostack: a slow ${c} gets 10 minutes to start and is not restarted before 5 minutes of failed liveness checks.\nspec:\n  containers:\n    - name: ${c}\n      startupProbe:\n        timeoutSeconds: 30\n        failureThreshold: 60\n      livenessProbe:\n        timeoutSeconds: 30\n        failureThreshold: 10\n`,
  }));
}
export const CRI_SOCKET = 'unix:///run/containerd/containerd.sock';
export const API_PORT = 6443;

/** The images of the Kubernetes artifacts that kubeadm's files name. */
export interface KubeadmImages {
  readonly etcdImageTag: string;
  readonly pauseImage: string;
}

/** The values kubeadm's files need beyond the Plan: the artifacts' images and the secrets. */
export interface KubeadmInputs extends KubeadmImages {
  readonly secrets: SecretValues;
}

/**
 * What the artifacts `civostack kube artifacts` builds carry (its recipe names the same; a unit test
 * holds them together): the render's images when the manifest names no airgap folder, whose own
 * artifacts.json says otherwise.
 */
export const DEFAULT_IMAGES: KubeadmImages = {
  etcdImageTag: '3.6.16-0',
  pauseImage: 'registry.k8s.io/pause:3.10.1',
};

export interface NodeFile {
  readonly path: string;
  readonly content: string;
  readonly mode: number;
  /** Secret values in the content, replaced by *** wherever it is shown. */
  readonly secrets: readonly string[];
  /** What must restart when this file changes. */
  readonly restarts?: 'containerd' | 'kubelet' | 'keepalived' | 'sysctl' | 'pod-routes';
}

function secret(inputs: KubeadmInputs, name: string): string {
  return inputs.secrets.get(name);
}

export const isControlPlane = (node: NodePlan): boolean => node.role === 'control-plane';

/** Control-plane nodes in join order: the init server first (recorded; it never moves). */
export function controlPlaneOrder(plan: Plan): NodePlan[] {
  const servers = plan.nodes.filter(isControlPlane);
  const init = servers.find((n) => n.name === plan.kubernetes.initServer)!;
  return [init, ...servers.filter((n) => n !== init)];
}

const LEADER_ELECTION = [
  { name: 'leader-elect-lease-duration', value: '60s' },
  { name: 'leader-elect-renew-deadline', value: '40s' },
  { name: 'leader-elect-retry-period', value: '5s' },
];

function clusterConfiguration(plan: Plan, inputs: KubeadmInputs): Record<string, unknown> {
  const k = plan.kubernetes;
  return {
    apiVersion: 'kubeadm.k8s.io/v1beta4',
    kind: 'ClusterConfiguration',
    clusterName: plan.region.name,
    kubernetesVersion: k.version,
    controlPlaneEndpoint: `${k.apiVip}:${API_PORT}`,
    imageRepository: 'registry.k8s.io',
    // ECDSA keys: every TLS handshake (etcd, the API server, kubelets) is several times cheaper than with RSA.
    encryptionAlgorithm: 'ECDSA-P256',
    etcd: { local: { imageTag: inputs.etcdImageTag, dataDir: '/var/lib/etcd' } },
    networking: { podSubnet: k.clusterCidr, serviceSubnet: k.serviceCidr, dnsDomain: k.clusterDomain },
    apiServer: {
      certSANs: [...k.tlsSan, ...plan.nodes.filter(isControlPlane).map((n) => n.node.address)],
      // /healthz waits up to 10 s for etcd (the probes, as probePatches() sets them, allow 30 s) instead of 2 s.
      // The controller manager exits when /healthz has not said ok for 10 s after it takes the lease
      // (a fixed wait in kube-controller-manager): with a slow etcd at 2 s, it crash-looped, so no
      // bootstrap token was signed into cluster-info and no kubelet certificate was approved, and
      // joins waited out their deadlines (seen under software emulation).
      extraArgs: [{ name: 'etcd-healthcheck-timeout', value: '10s' }],
    },
    // Pod ranges come from the Plan (recorded per node), not from the controller manager.
    // Leader election that tolerates a slow API server: kubeadm's defaults (15 s lease, 10 s renew)
    // make the controller manager and scheduler exit whenever etcd is slow for ten seconds (seen
    // under software emulation: a crash loop, so no kubelet certificate got signed); failover
    // after a real failure takes a minute instead of 15 s.
    controllerManager: {
      extraArgs: [{ name: 'allocate-node-cidrs', value: 'false' }, ...LEADER_ELECTION],
    },
    scheduler: { extraArgs: LEADER_ELECTION },
  };
}

/**
 * Checks kubeadm's preflight makes that a lab VM (one vCPU, 1–2 GiB) fails by design; crictl,
 * which kubeadm no longer needs for a CRI runtime; and image pulls: the nodes pull nothing, every
 * image is staged and imported first (kubernetes-stage checks containerd has each one). Everything
 * else must pass.
 */
const IGNORED_PREFLIGHT = ['NumCPU', 'Mem', 'FileExisting-crictl', 'SystemVerification', 'ImagePull'];

function nodeRegistration(node: NodePlan): Record<string, unknown> {
  return {
    name: node.name,
    criSocket: CRI_SOCKET,
    kubeletExtraArgs: [{ name: 'node-ip', value: node.node.address }],
    ignorePreflightErrors: IGNORED_PREFLIGHT,
    ...(isControlPlane(node)
      ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] }
      : {}),
  };
}

/** Generous bounds: a control plane under software emulation starts in minutes, not seconds. */
const TIMEOUTS = {
  controlPlaneComponentHealthCheck: '20m0s',
  kubeletHealthCheck: '10m0s',
  kubernetesAPICall: '2m0s',
  etcdAPICall: '5m0s',
  tlsBootstrap: '15m0s',
  discovery: '15m0s',
};

function kubeletConfiguration(plan: Plan): Record<string, unknown> {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    cgroupDriver: 'systemd',
    clusterDomain: plan.kubernetes.clusterDomain,
    containerRuntimeEndpoint: CRI_SOCKET,
    // Images are staged, never pulled, so kubelet must not garbage-collect them away.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
  };
}

/** kubeadm's configuration for one node: init on the init server, join (control plane or worker) elsewhere. */
export function kubeadmConfig(
  plan: Plan,
  node: NodePlan,
  inputs: KubeadmInputs,
  caCertHash?: string,
): string {
  const k = plan.kubernetes;
  const token = secret(inputs, 'kubeadm/token');
  const certificateKey = secret(inputs, 'kubeadm/certificate-key');
  const docs: Record<string, unknown>[] = [];
  const header = `# ${node.name}: kubeadm ${node.name === k.initServer ? 'init' : isControlPlane(node) ? 'join (control plane)' : 'join (worker)'} for Kubernetes ${k.version}, rendered by civostack.\n`;
  if (node.name === k.initServer) {
    docs.push({
      apiVersion: 'kubeadm.k8s.io/v1beta4',
      kind: 'InitConfiguration',
      bootstrapTokens: [
        {
          token,
          description: 'civostack: joins the region nodes',
          ttl: '24h0m0s',
          usages: ['signing', 'authentication'],
          groups: ['system:bootstrappers:kubeadm:default-node-token'],
        },
      ],
      certificateKey,
      localAPIEndpoint: { advertiseAddress: node.node.address, bindPort: API_PORT },
      nodeRegistration: nodeRegistration(node),
      patches: { directory: PATCHES_DIR },
      // No kube-proxy or CoreDNS image is built for the lab; see README "Kubernetes".
      skipPhases: ['addon/kube-proxy', 'addon/coredns'],
      timeouts: TIMEOUTS,
    });
    docs.push(clusterConfiguration(plan, inputs));
  } else {
    docs.push({
      apiVersion: 'kubeadm.k8s.io/v1beta4',
      kind: 'JoinConfiguration',
      discovery: {
        bootstrapToken: {
          apiServerEndpoint: `${k.apiVip}:${API_PORT}`,
          token,
          caCertHashes: [caCertHash ?? 'sha256:(the cluster CA, read after init)'],
        },
      },
      nodeRegistration: nodeRegistration(node),
      ...(isControlPlane(node) ? { patches: { directory: PATCHES_DIR } } : {}),
      ...(isControlPlane(node)
        ? {
            controlPlane: {
              localAPIEndpoint: { advertiseAddress: node.node.address, bindPort: API_PORT },
              certificateKey,
            },
          }
        : {}),
      timeouts: TIMEOUTS,
    });
  }
  docs.push(kubeletConfiguration(plan));
  return header + docs.map((d) => toYaml(d)).join('---\n');
}

export function containerdConfig(inputs: KubeadmInputs): string {
  return `# civostack: containerd for kubelet (CRI), systemd cgroups, Debian's CNI plugins.
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${inputs.pauseImage}"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
`;
}

/** The node's pods on a bridge, addresses from its own recorded range; other nodes' ranges are routed (podRoutes). */
export function cniConfig(plan: Plan, node: NodePlan): string {
  const conf = {
    cniVersion: '0.4.0',
    name: 'civostack',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: node.podCidr }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  void plan;
  return `${JSON.stringify(conf, null, 2)}\n`;
}

/** Routes to every other node's pods through that node: one line per node, applied by a oneshot unit. */
export function podRoutes(plan: Plan, node: NodePlan): string {
  const lines = plan.nodes
    .filter((n) => n.name !== node.name)
    .map((n) => `${n.podCidr} via ${n.node.address} dev ${node.node.interface}`);
  return `# civostack: other nodes' pod ranges, via their node addresses (ip route replace, one per line).\n${lines.join('\n')}\n`;
}

const POD_ROUTES_UNIT = `[Unit]
Description=civostack: routes to other nodes' pods
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'grep -v "^#" /etc/civostack/pod-routes | while read -r line; do [ -n "$line" ] && ip route replace $line; done'

[Install]
WantedBy=multi-user.target
`;

const SYSCTL = `# civostack: what kubelet, kube-proxy-less bridging and the lab's routed node network need.
net.ipv4.ip_forward = 1
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.conf.all.rp_filter = 2
`;

const MODULES = `# civostack: kubelet and containerd's pod networking.
overlay
br_netfilter
`;

/** kubelet as kubeadm expects it: the unit and the drop-in that reads kubeadm's flags. */
const KUBELET_UNIT = `[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target containerd.service
After=network-online.target containerd.service

[Service]
ExecStart=/usr/local/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
`;

const KUBELET_DROPIN = `# kubeadm's drop-in (kubeadm's packaging, unchanged in substance).
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/local/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;

/** A stable VRRP router id for the region (1–255), so two regions on one network do not collide. */
export function vrrpRouterId(region: string): number {
  return (createHash('sha256').update(region).digest()[0]! % 255) + 1;
}

/**
 * keepalived holds the API VIP on the control-plane nodes: unicast VRRP on the node VLAN (no
 * multicast needed from the fabric), the init server preferred, and a node whose API server does
 * not answer loses 50 points, so the VIP moves to one that does (weight, not fault: a lone control
 * plane keeps its VIP while its API server starts).
 */
export function keepalivedConfig(plan: Plan, node: NodePlan, inputs: KubeadmInputs): string {
  const servers = controlPlaneOrder(plan);
  const index = servers.findIndex((n) => n.name === node.name);
  const peers = servers.filter((n) => n.name !== node.name).map((n) => `    ${n.node.address}`);
  const prefix = plan.nodes.find((n) => n.name === node.name)!.node.prefix;
  // A lone control plane has no peer to advertise to (an empty unicast_peer block is refused).
  const unicast =
    peers.length === 0
      ? ''
      : `  unicast_src_ip ${node.node.address}\n  unicast_peer {\n${peers.join('\n')}\n  }\n`;
  return `# ${node.name}: keepalived for the API VIP ${plan.kubernetes.apiVip}, rendered by civostack.
global_defs {
  router_id ${node.name}
  script_user root
  enable_script_security
}

vrrp_script apiserver {
  script "/etc/keepalived/check-apiserver.sh"
  interval 3
  timeout 2
  fall 2
  rise 2
  weight -50
}

vrrp_instance api {
  state BACKUP
  interface ${node.node.interface}
  virtual_router_id ${vrrpRouterId(plan.region.name)}
  priority ${150 - index * 10}
  advert_int 1
${unicast}  authentication {
    auth_type PASS
    auth_pass ${secret(inputs, 'keepalived/password')}
  }
  virtual_ipaddress {
    ${plan.kubernetes.apiVip}/${prefix} dev ${node.node.interface}
  }
  track_script {
    apiserver
  }
}
`;
}

const CHECK_APISERVER = `#!/bin/sh
# civostack: the local API server accepts connections.
exec /usr/bin/timeout 2 /bin/bash -c '</dev/tcp/127.0.0.1/${API_PORT}'
`;

/** Every file civostack writes on a node for the kubeadm distribution. */
export function kubeadmNodeFiles(
  plan: Plan,
  node: NodePlan,
  inputs: KubeadmInputs,
  caCertHash?: string,
): NodeFile[] {
  const token = secret(inputs, 'kubeadm/token');
  const certificateKey = secret(inputs, 'kubeadm/certificate-key');
  const files: NodeFile[] = [
    {
      path: '/etc/modules-load.d/civostack-kubernetes.conf',
      content: MODULES,
      mode: 0o644,
      secrets: [],
      restarts: 'sysctl',
    },
    {
      path: '/etc/sysctl.d/90-civostack-kubernetes.conf',
      content: SYSCTL,
      mode: 0o644,
      secrets: [],
      restarts: 'sysctl',
    },
    {
      path: '/etc/containerd/config.toml',
      content: containerdConfig(inputs),
      mode: 0o644,
      secrets: [],
      restarts: 'containerd',
    },
    {
      path: '/etc/cni/net.d/10-civostack.conflist',
      content: cniConfig(plan, node),
      mode: 0o644,
      secrets: [],
    },
    {
      path: '/etc/civostack/pod-routes',
      content: podRoutes(plan, node),
      mode: 0o644,
      secrets: [],
      restarts: 'pod-routes',
    },
    {
      path: '/etc/systemd/system/civostack-pod-routes.service',
      content: POD_ROUTES_UNIT,
      mode: 0o644,
      secrets: [],
      restarts: 'pod-routes',
    },
    {
      path: '/etc/systemd/system/kubelet.service',
      content: KUBELET_UNIT,
      mode: 0o644,
      secrets: [],
      restarts: 'kubelet',
    },
    {
      path: '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf',
      content: KUBELET_DROPIN,
      mode: 0o644,
      secrets: [],
      restarts: 'kubelet',
    },
    {
      path: KUBEADM_CONFIG,
      content: kubeadmConfig(plan, node, inputs, caCertHash),
      mode: 0o600,
      secrets: [token, certificateKey],
    },
  ];
  if (isControlPlane(node)) {
    for (const p of probePatches()) files.push({ ...p, mode: 0o644, secrets: [] });
    const password = secret(inputs, 'keepalived/password');
    files.push(
      {
        path: '/etc/keepalived/keepalived.conf',
        content: keepalivedConfig(plan, node, inputs),
        mode: 0o600,
        secrets: [password],
        restarts: 'keepalived',
      },
      {
        path: '/etc/keepalived/check-apiserver.sh',
        content: CHECK_APISERVER,
        mode: 0o755,
        secrets: [],
        restarts: 'keepalived',
      },
    );
  }
  return files;
}
