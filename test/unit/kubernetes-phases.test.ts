// The Kubernetes phases against fake nodes: hosts that answer kubeadm's and etcd's commands from a
// script, and a fake cluster API. What is checked is the order of the joins and what waits for
// what: the init server never joins, each further control plane joins only once etcd counts the one
// before as a voter (a learner is not one), and workers join in parallel within --concurrency.
// Then the stage's restart matrix: which changed file restarts which service, row by row.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../../src/apply/context.js';
import { rackPhases, regionUp } from '../../src/apply/region-up.js';
import { NodeStore } from '../../src/boot/index.js';
import { recorder } from '../../src/events.js';
import { kubeRecipe, type KubeArtifacts } from '../../src/kube/artifacts.js';
import type { NodeHosts } from '../../src/kube/hosts.js';
import { kubeconfigPath } from '../../src/kube/kubeconfig.js';
import { k3sStageList } from '../../src/kube/k3s.js';
import { stageList, stageNode, type StagedFacts, type StageList } from '../../src/kube/kubeadm.js';
import { DEFAULT_IMAGES } from '../../src/kube/kubeadm-render.js';
import { loadRegion } from '../../src/manifest/index.js';
import { commit, prepare } from '../../src/pipeline.js';
import { secretValues } from '../../src/render/secrets.js';
import type { ExecOptions, ExecResult, Host, Limiter } from '../../src/remote/index.js';
import type { StateDir } from '../../src/state/index.js';
import { labWith, tempDir, type LabManifest } from '../helpers/manifest.js';

const OK: ExecResult = { code: 0, stdout: '', stderr: '' };

/** A self-signed CA in an admin.conf, for kubeadm's discovery hash. */
function adminConf(): string {
  const dir = tempDir('civostack-ca-');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      '/CN=kubernetes',
    ],
    { cwd: dir, encoding: 'utf8', input: '', env: { ...process.env, RANDFILE: join(dir, 'rnd') } },
  );
  if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
  const pem = r.stdout.slice(r.stdout.indexOf('-----BEGIN CERTIFICATE-----'));
  const data = Buffer.from(pem).toString('base64');
  return `apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster:\n    server: https://10.101.0.5:6443\n    certificate-authority-data: ${data}\n`;
}

/**
 * The lab manifest with three control planes and four workers. r01-n03 is made the init server
 * first (a region whose only control plane was r01-n03), then r01-n01 and r01-n02 become control
 * planes: the recorded init server stays, so it is listed last.
 */
function region(): { state: StateDir; prepared: ReturnType<typeof prepare> } {
  const state: StateDir = { path: join(tempDir('civostack-kube-'), 'state') };
  const make = (controlPlanes: readonly string[]) => {
    const file = labWith((m: LabManifest) => {
      const nodes = m.racks[0].nodes as LabManifest[];
      for (let i = 4; i <= 7; i++)
        nodes.push({
          name: `r01-n0${i}`,
          role: 'worker',
          sku: 'lab-vm-bios',
          slot: i,
          bmcMac: `52:54:00:0c:00:0${i}`,
          nics: [{ mac: `52:54:00:aa:00:0${i}` }, { mac: `52:54:00:bb:00:0${i}` }],
        });
      for (const n of nodes) n.role = controlPlanes.includes(n.name) ? 'control-plane' : 'worker';
    });
    const loaded = loadRegion(file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded));
    return prepare({ region: loaded.region, manifestDir: join(file, '..'), state });
  };
  commit(make(['r01-n03']));
  const prepared = make(['r01-n01', 'r01-n02', 'r01-n03']);
  commit(prepared);
  const store = new NodeStore(state, prepared.plan.nodes);
  for (const n of prepared.plan.nodes) {
    store.apply(n.name, { kind: 'hostkeys', keys: ['ssh-ed25519 AAAA fake'] });
    store.apply(n.name, { kind: 'ssh-ready' });
  }
  mkdirSync(join(state.path, 'kubernetes'), { recursive: true });
  writeFileSync(kubeconfigPath(state.path), adminConf(), { mode: 0o600 });
  return { state, prepared };
}

/**
 * Fake nodes: kubeadm join takes a little while and then the node is joined; a control plane that
 * joined is listed by etcd as a learner for its first `learnerLists` member lists, then as a voter.
 * `log` is one timeline for every node, in the order things happened.
 */
function fakeNodes(initServer: string, learnerLists = 2) {
  const log: string[] = [];
  const joined = new Set<string>([initServer]);
  const lists = new Map<string, number>();
  let running = 0;
  let most = 0;
  const hostFor = (name: string): Host => ({
    name,
    async exec(argv: readonly string[], _o?: ExecOptions): Promise<ExecResult> {
      const line = argv.join(' ');
      if (argv[0] === 'sh' && line.includes('/etc/civostack/kubeadm/done'))
        return { ...OK, stdout: joined.has(name) ? `done\n${name === initServer ? 'admin\n' : ''}` : '' };
      if (argv[0] === 'kubeadm' && argv[1] === 'join') {
        log.push(`join ${name}`);
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
        joined.add(name);
        return OK;
      }
      if (argv[0] === 'kubeadm') {
        log.push(`${argv.slice(0, 4).join(' ')} on ${name}`);
        return OK;
      }
      if (argv[0] === 'etcdctl') {
        const members = [...joined].map((m) => {
          const seen = (lists.get(m) ?? 0) + 1;
          lists.set(m, seen);
          const learner = m !== initServer && seen <= learnerLists;
          return { name: m, isLearner: learner };
        });
        log.push(
          `etcd on ${name}: ${members.map((m) => `${m.name}${m.isLearner ? ' learner' : ' voter'}`).join(', ')}`,
        );
        return { ...OK, stdout: JSON.stringify({ members }) };
      }
      return OK;
    },
    upload: (path: string) => Promise.resolve({ path, sha256: '', bytes: 0, status: 'written' as const }),
    close: () => Promise.resolve(),
  });
  const hosts = (limiter: Limiter): NodeHosts => {
    const made = new Map<string, Host>();
    return {
      limiter,
      get: (node) => made.get(node.name) ?? made.set(node.name, hostFor(node.name)).get(node.name)!,
      close: () => Promise.resolve(),
    };
  };
  const cluster: Cluster = {
    server: 'https://10.101.0.5:6443',
    nodes: () => Promise.resolve([]),
    ensureBootstrapToken: () => Promise.resolve(void log.push('bootstrap token refreshed')),
    apply: (o) => Promise.resolve(o),
    read: () => Promise.resolve(undefined as never),
    crdEstablished: () => Promise.resolve(true),
  };
  return { log, hosts, cluster, most: () => most };
}

const ARTIFACTS: KubeArtifacts = {
  dir: '/nonexistent',
  kubernetesVersion: 'v1.35.4',
  etcdVersion: '3.6.16',
  etcdImage: 'registry.k8s.io/etcd:3.6.16-0',
  pauseImage: 'registry.k8s.io/pause:3.10.1',
  files: [],
};

describe('the kubernetes join phases', () => {
  it('joins further control planes one at a time, each after etcd counts the one before as a voter, then workers within --concurrency', async () => {
    const { state, prepared } = region();
    expect(prepared.plan.kubernetes.initServer).toBe('r01-n03');
    const fake = fakeNodes('r01-n03');
    const rec = recorder();
    const r = await regionUp({
      manifest: 'lab.yaml',
      prepared,
      environment: {
        phases: rackPhases(),
        power: () => undefined,
        boot: {
          describe: () => '',
          running: () => Promise.resolve(false),
          start: () => Promise.reject(new Error('no')),
        },
        kubeArtifacts: () => Promise.resolve(ARTIFACTS),
      },
      emit: rec.sink,
      signal: new AbortController().signal,
      nodeTimeoutMs: 60_000,
      selection: { from: 'kubernetes-join-control-plane', until: 'kubernetes-join-workers' },
      pollMs: { states: 10, ssh: 10, power: 60_000, kube: 5 },
      concurrency: 2,
      hosts: fake.hosts,
      cluster: () => fake.cluster,
    });
    expect(r.outcome, String(r.error)).toBe('done');
    const joins = fake.log.filter((l) => l.startsWith('join '));
    // The init server never joins; the others in the manifest's order, then every worker.
    expect(joins.slice(0, 2)).toEqual(['join r01-n01', 'join r01-n02']);
    expect(joins.slice(2).sort()).toEqual(['join r01-n04', 'join r01-n05', 'join r01-n06', 'join r01-n07']);
    // Certificates are uploaded on the init server before any control plane joins.
    const upload = fake.log.indexOf('kubeadm init phase upload-certs on r01-n03');
    expect(upload).toBeGreaterThanOrEqual(0);
    expect(upload).toBeLessThan(fake.log.indexOf('join r01-n01'));
    // r01-n02 joins only after a member list that shows r01-n01 as a voter, and r01-n01 was a
    // learner in the lists before it.
    const n01Voter = fake.log.findIndex((l) => /^etcd on r01-n03: .*r01-n01 voter/.test(l));
    const n01Learner = fake.log.findIndex((l) => /^etcd on r01-n03: .*r01-n01 learner/.test(l));
    expect(n01Learner).toBeGreaterThan(fake.log.indexOf('join r01-n01'));
    expect(n01Voter).toBeGreaterThan(n01Learner);
    expect(fake.log.indexOf('join r01-n02')).toBeGreaterThan(n01Voter);
    // The phase ends only once r01-n02 is a voter too, before any worker joins.
    const n02Voter = fake.log.findIndex((l) => /^etcd on r01-n03: .*r01-n02 voter/.test(l));
    expect(n02Voter).toBeGreaterThan(fake.log.indexOf('join r01-n02'));
    expect(fake.log.indexOf('join r01-n04')).toBeGreaterThan(n02Voter);
    // Workers: in parallel, never more than --concurrency at once.
    expect(fake.most()).toBe(2);
    const logs = rec.events.flatMap((e) => (e.kind === 'log' ? [e.message] : []));
    expect(logs).toContain('r01-n01: etcd voting member (2 voters)');
    expect(readFileSync(kubeconfigPath(state.path), 'utf8')).toContain('certificate-authority-data');
  });
});

/** A node that records every systemd unit a script restarts. */
function restartRecorder(): Host & { restarted: () => string[]; scripts: string[] } {
  const scripts: string[] = [];
  return {
    name: 'r01-n01',
    scripts,
    exec(argv: readonly string[]): Promise<ExecResult> {
      scripts.push(argv.join(' '));
      return Promise.resolve(OK);
    },
    upload: (path: string) => Promise.resolve({ path, sha256: '', bytes: 0, status: 'written' as const }),
    close: () => Promise.resolve(),
    restarted: () =>
      [
        ...new Set(scripts.flatMap((s) => [...s.matchAll(/systemctl restart ([\w-]+)/g)].map((m) => m[1]!))),
      ].sort(),
  };
}

function stagedFacts(list: StageList, path: string): StagedFacts {
  const file = list.files.find((f) => f.path === path);
  if (!file) throw new Error(`${path} is not in the stage list`);
  return { list, changed: [file], missingImages: [], stopped: [] };
}

describe('kubernetes-stage: what a changed file restarts', () => {
  const lab = (distribution: 'kubeadm' | 'k3s') => {
    const file = labWith((m: LabManifest) => {
      m.kubernetes.distribution = distribution;
      if (distribution === 'k3s') m.kubernetes.version = 'v1.35.4+k3s1';
    });
    const loaded = loadRegion(file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded));
    const p = prepare({
      region: loaded.region,
      manifestDir: join(file, '..'),
      state: { path: join(tempDir(), 'state') },
    });
    const node = (name: string) => p.plan.nodes.find((n) => n.name === name)!;
    return { p, node };
  };

  const KUBEADM: readonly [node: string, path: string, restarts: readonly string[]][] = [
    ['r01-n01', '/etc/containerd/config.toml', ['containerd']],
    ['r01-n01', '/etc/systemd/system/kubelet.service', ['kubelet']],
    ['r01-n01', '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf', ['kubelet']],
    ['r01-n01', '/etc/keepalived/keepalived.conf', ['keepalived']],
    ['r01-n01', '/etc/keepalived/check-apiserver.sh', ['keepalived']],
    ['r01-n01', '/etc/civostack/pod-routes', ['civostack-pod-routes']],
    ['r01-n01', '/etc/systemd/system/civostack-pod-routes.service', ['civostack-pod-routes']],
    ['r01-n01', '/etc/sysctl.d/90-civostack-kubernetes.conf', []],
    ['r01-n01', '/etc/modules-load.d/civostack-kubernetes.conf', []],
    ['r01-n01', '/etc/cni/net.d/10-civostack.conflist', []],
    ['r01-n02', '/etc/containerd/config.toml', ['containerd']],
    ['r01-n02', '/etc/systemd/system/kubelet.service', ['kubelet']],
    ['r01-n02', '/etc/civostack/pod-routes', ['civostack-pod-routes']],
  ];
  it.each(KUBEADM)('kubeadm, %s: %s restarts %j', async (name, path, restarts) => {
    const { p, node } = lab('kubeadm');
    const inputs = {
      etcdImageTag: '3.6.16-0',
      pauseImage: ARTIFACTS.pauseImage,
      secrets: secretValues(p.secrets),
    };
    const host = restartRecorder();
    const list = stageList(p.plan, node(name), ARTIFACTS, inputs);
    await stageNode(host, node(name), stagedFacts(list, path), () => {}, 'kubeadm');
    expect(host.restarted()).toEqual(restarts);
  });

  // K3s runs its own containerd and kubelet: a changed config is K3s' to pick up, nothing is
  // restarted, except keepalived, which holds the API VIP on K3s servers as on kubeadm's.
  const K3S: readonly [node: string, path: string, restarts: readonly string[]][] = [
    ['r01-n01', '/etc/keepalived/keepalived.conf', ['keepalived']],
    ['r01-n01', '/etc/rancher/k3s/config.yaml', []],
    ['r01-n02', '/etc/rancher/k3s/config.yaml', []],
    ['r01-n02', '/etc/rancher/k3s/agent-token', []],
  ];
  it.each(K3S)('k3s, %s: %s restarts %j', async (name, path, restarts) => {
    const { p, node } = lab('k3s');
    const airgap = {
      binary: '/a/k3s',
      images: '/a/k3s-airgap-images-amd64.tar.zst',
      installScript: '/a/install.sh',
    };
    const inputs = { ...DEFAULT_IMAGES, secrets: secretValues(p.secrets) };
    const host = restartRecorder();
    const list = k3sStageList(p.plan, node(name), airgap, () => 'f'.repeat(64), inputs);
    await stageNode(host, node(name), stagedFacts(list, path), () => {}, 'k3s');
    expect(host.restarted()).toEqual(restarts);
    // Nor is anything of kubeadm's containerd or kubelet started.
    expect(host.scripts.filter((x) => /containerd|kubelet/.test(x))).toEqual([]);
  });
});

describe('one render of a node’s Kubernetes files', () => {
  const airgapped = (images: { etcdImage: string; pauseImage: string }) => {
    const airgap = tempDir('civostack-airgap-');
    writeFileSync(
      join(airgap, 'artifacts.json'),
      JSON.stringify({
        recipe: 'r',
        kubernetesVersion: 'v1.35.4',
        etcdVersion: '9.9.9',
        ...images,
        kubeProxyImage: 'registry.k8s.io/kube-proxy:v1.35.4',
        corednsImage: 'registry.k8s.io/coredns/coredns:v1.13.1',
        agnhostImage: 'registry.k8s.io/e2e-test-images/agnhost:2.59',
        go: 'go1.26',
        files: [],
      }),
    );
    const file = labWith((m: LabManifest) => {
      m.kubernetes.airgap = airgap;
    });
    const loaded = loadRegion(file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded));
    return prepare({
      region: loaded.region,
      manifestDir: join(file, '..'),
      state: { path: join(tempDir(), 'state') },
    });
  };

  it('renders what the stage phase puts on each node, with the airgap folder’s images', () => {
    const images = { etcdImage: 'registry.k8s.io/etcd:9.9.9-0', pauseImage: 'registry.example/pause:7.7' };
    const p = airgapped(images);
    const artifacts: KubeArtifacts = { ...ARTIFACTS, ...images };
    const inputs = {
      etcdImageTag: '9.9.9-0',
      pauseImage: images.pauseImage,
      secrets: secretValues(p.secrets),
    };
    let compared = 0;
    for (const node of p.plan.nodes) {
      for (const f of stageList(p.plan, node, artifacts, inputs).files) {
        if (typeof f.source !== 'string') continue;
        const rendered = p.tree.get(`nodes/${node.name}/kubeadm${f.path}`);
        expect(rendered?.content, `${node.name}: ${f.path}`).toBe(f.source);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(p.plan.nodes.length * 5);
    const containerd = p.tree.get('nodes/r01-n02/kubeadm/etc/containerd/config.toml')?.content;
    expect(containerd).toContain(images.pauseImage);
  });

  it('names, without an airgap folder, the images the Kubernetes recipe builds', () => {
    const recipe = kubeRecipe();
    expect(DEFAULT_IMAGES).toEqual({
      etcdImageTag: recipe.etcdImage.split(':').at(-1),
      pauseImage: recipe.pauseImage,
    });
  });
});
