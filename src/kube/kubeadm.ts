// The kubeadm distribution on one node, over its Host: what is staged (binaries, images, files),
// what kubeadm has done there, init, join, and etcd's view of its members. Every step observes
// first, so a re-run with nothing changed writes nothing and restarts nothing.
import { createHash, X509Certificate } from 'node:crypto';
import { basename } from 'node:path';
import jsYaml from 'js-yaml';
import { UserError } from '../errors.js';
import type { NodePlan, Plan } from '../plan/index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { redact, RemoteCommandError, shellQuote, type ExecResult, type Host } from '../remote/index.js';
import type { KubeArtifacts } from './artifacts.js';
import {
  CRI_SOCKET,
  isControlPlane,
  KUBEADM_CONFIG,
  kubeadmNodeFiles,
  type KubeadmInputs,
  type NodeFile,
} from './kubeadm-render.js';

export const IMAGE_DIR = '/var/lib/civostack/images';
/** Written once kubeadm init or join returned 0 on this node. */
const DONE = '/etc/civostack/kubeadm/done';

export interface StagedFile {
  readonly path: string;
  readonly sha256: string;
  readonly source: string | { readonly file: string };
  readonly mode: number;
  readonly secrets: readonly string[];
  readonly restarts?: NodeFile['restarts'];
}

export interface StageList {
  readonly files: readonly StagedFile[];
  /** Image references with the archive each is imported from. */
  readonly images: readonly { readonly ref: string; readonly path: string }[];
}

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

/** What one node needs: its role's binaries and images from the artifacts, and its rendered files (kubeadm's own config apart). */
export function stageList(
  plan: Plan,
  node: NodePlan,
  artifacts: KubeArtifacts,
  inputs: KubeadmInputs,
  extraImages: readonly { ref: string; archive: string; sha256: string }[] = [],
): StageList {
  const role = isControlPlane(node) ? 'control-plane' : 'worker';
  const mine = artifacts.files.filter((f) => f.roles.includes(role));
  const files: StagedFile[] = [];
  const images: { ref: string; path: string }[] = [];
  for (const f of mine) {
    if (f.kind === 'binary') {
      files.push({
        path: `/usr/local/bin/${f.name}`,
        sha256: f.sha256,
        source: { file: f.path },
        mode: 0o755,
        secrets: [],
      });
    } else {
      const path = `${IMAGE_DIR}/${basename(f.path)}`;
      files.push({ path, sha256: f.sha256, source: { file: f.path }, mode: 0o644, secrets: [] });
      images.push({ ref: f.ref!, path });
    }
  }
  for (const x of extraImages) {
    const path = `${IMAGE_DIR}/${basename(x.archive)}`;
    files.push({ path, sha256: x.sha256, source: { file: x.archive }, mode: 0o644, secrets: [] });
    images.push({ ref: x.ref, path });
  }
  for (const f of kubeadmNodeFiles(plan, node, inputs)) {
    if (f.path === KUBEADM_CONFIG) continue; // written by init or join, with the CA's hash
    files.push({
      path: f.path,
      sha256: sha(f.content),
      source: f.content,
      mode: f.mode,
      secrets: f.secrets,
      ...(f.restarts ? { restarts: f.restarts } : {}),
    });
  }
  return { files, images };
}

export interface StagedFacts {
  /** Everything the node should have (its record is rewritten from it once staged). */
  readonly list: StageList;
  /** Files whose content on the node differs (or which are missing). */
  readonly changed: readonly StagedFile[];
  readonly missingImages: readonly { ref: string; path: string }[];
  /** The node joined the cluster but its kubelet (or containerd, or keepalived) is not running. */
  readonly stopped: readonly string[];
}

/**
 * What civostack staged on a node: per file its sha256 and the size, inode and mtime it had once
 * written. A file whose stat still matches is taken as unchanged without reading it (rsync's quick
 * check); one that differs, or has no record, is hashed. 0600: it lists the secret-bearing files.
 */
export const STAGE_RECORD = '/var/lib/civostack/staged.sums';
const STAT = `stat -c '%s %i %.9Y %n'`;

/** Parses the record: path → "sha256 stamp". */
export function parseStageRecord(text: string): Map<string, { sha256: string; stamp: string }> {
  const out = new Map<string, { sha256: string; stamp: string }>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{64}) (\d+ \d+ [\d.]+) (\/.+)$/.exec(line);
    if (m) out.set(m[3]!, { sha256: m[1]!, stamp: m[2]! });
  }
  return out;
}

/** Parses `stat -c '%s %i %.9Y %n'` lines: path → "size inode mtime". */
export function parseStats(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+ \d+ [\d.]+) (\/.+)$/.exec(line);
    if (m) out.set(m[2]!, m[1]!);
  }
  return out;
}

/**
 * One command reads the stage record, every staged file's stat, the images containerd has and the
 * services that should run; only files whose stat moved since they were staged are hashed.
 */
export async function observeStaged(
  host: Host,
  list: StageList,
  record: string = STAGE_RECORD,
): Promise<StagedFacts> {
  const paths = list.files.map((f) => f.path);
  const r = await host.exec(
    [
      'sh',
      '-c',
      `cat ${shellQuote([record])} 2>/dev/null; echo ---; ${STAT} "$@" 2>/dev/null; echo ---; ` +
        '[ -S /run/containerd/containerd.sock ] && ctr --connect-timeout 10s -n k8s.io images ls -q 2>/dev/null; echo ---; ' +
        'for u in containerd kubelet keepalived; do ' +
        'if [ "$u" = kubelet ] && [ ! -f /etc/kubernetes/kubelet.conf ]; then continue; fi; ' +
        'if [ "$u" = keepalived ] && [ ! -f /etc/keepalived/keepalived.conf ]; then continue; fi; ' +
        'systemctl is-active -q $u || echo $u; done; true',
      'sh',
      ...paths,
    ],
    { sudo: true, logAs: `stat (${paths.length} staged files); ctr images ls; systemctl is-active` },
  );
  const [recordText = '', statText = '', imgs = '', down = ''] = r.stdout.split('---\n');
  const recorded = parseStageRecord(recordText);
  const stats = parseStats(statText);
  const changed: StagedFile[] = [];
  const toHash: StagedFile[] = [];
  for (const f of list.files) {
    const stamp = stats.get(f.path);
    const known = recorded.get(f.path);
    if (stamp === undefined) changed.push(f);
    else if (known?.stamp === stamp && known.sha256 === f.sha256) continue;
    else toHash.push(f);
  }
  if (toHash.length > 0) {
    const h = await host.exec(
      ['sh', '-c', 'sha256sum "$@" 2>/dev/null; true', 'sh', ...toHash.map((f) => f.path)],
      {
        sudo: true,
        logAs: `sha256sum (${toHash.length} files changed since staged)`,
      },
    );
    const have = new Map<string, string>();
    for (const line of h.stdout.split('\n')) {
      const m = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(line.trim());
      if (m) have.set(m[2]!, m[1]!);
    }
    changed.push(...toHash.filter((f) => have.get(f.path) !== f.sha256));
  }
  const refs = new Set(
    imgs
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  );
  return {
    list,
    changed: list.files.filter((f) => changed.includes(f)),
    missingImages: list.images.filter((i) => !refs.has(i.ref)),
    stopped: down
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean),
  };
}

/** After staging: every listed file is what the list says; record it with its stat as it is now. */
export async function writeStageRecord(
  host: Host,
  list: StageList,
  record: string = STAGE_RECORD,
): Promise<void> {
  const r = await host.exec(
    ['sh', '-c', `${STAT} "$@" 2>/dev/null; true`, 'sh', ...list.files.map((f) => f.path)],
    {
      sudo: true,
      logAs: `stat (${list.files.length} staged files)`,
    },
  );
  const stats = parseStats(r.stdout);
  const lines = list.files
    .filter((f) => stats.has(f.path))
    .map((f) => `${f.sha256} ${stats.get(f.path)!} ${f.path}\n`)
    .join('');
  await host.upload(record, lines, { mode: 0o600, sudo: true });
}

/**
 * Puts what changed in place and restarts only what a changed file asks for: containerd for its
 * config, kubelet for its unit (only where it already runs), keepalived, the pod routes.
 */
export async function stageNode(
  host: Host,
  node: NodePlan,
  facts: StagedFacts,
  log: (message: string) => void,
  distribution: 'k3s' | 'kubeadm' = 'kubeadm',
): Promise<void> {
  const restarts = new Set(facts.changed.map((f) => f.restarts).filter((r) => r !== undefined));
  for (const f of facts.changed) {
    await host.upload(f.path, f.source, { mode: f.mode, sudo: true, redact: f.secrets });
  }
  if (facts.changed.length > 0) log(`${node.name}: ${facts.changed.length} files staged`);
  await writeStageRecord(host, facts.list);
  const sh = (script: string, logAs?: string) =>
    host.exec(['sh', '-ec', script], { sudo: true, ...(logAs ? { logAs } : {}) });
  if (distribution === 'k3s') {
    // K3s runs its own containerd and kubelet; only the VIP is ours.
    if (isControlPlane(node) && (restarts.has('keepalived') || facts.stopped.includes('keepalived')))
      await sh('systemctl enable keepalived >/dev/null 2>&1; systemctl restart keepalived');
    return;
  }
  if (restarts.has('sysctl') || facts.changed.length > 0)
    await sh('modprobe overlay; modprobe br_netfilter; sysctl --system >/dev/null; systemctl daemon-reload');
  await sh(
    restarts.has('containerd')
      ? 'systemctl enable containerd >/dev/null 2>&1; systemctl restart containerd'
      : 'systemctl enable --now containerd >/dev/null 2>&1',
  );
  await sh(
    'for i in $(seq 1 60); do ctr version >/dev/null 2>&1 && exit 0; sleep 1; done; echo "containerd does not answer" >&2; exit 1',
  );
  for (const image of facts.missingImages) {
    await sh(`ctr -n k8s.io images import ${image.path} >/dev/null`, `ctr images import ${image.ref}`);
    log(`${node.name}: image ${image.ref} imported`);
  }
  await sh(
    restarts.has('pod-routes')
      ? 'systemctl enable civostack-pod-routes >/dev/null 2>&1; systemctl restart civostack-pod-routes'
      : 'systemctl enable --now civostack-pod-routes >/dev/null 2>&1',
  );
  await sh('systemctl enable kubelet >/dev/null 2>&1');
  if (restarts.has('kubelet'))
    await sh('if systemctl is-active -q kubelet; then systemctl restart kubelet; fi');
  if (facts.stopped.includes('kubelet')) {
    log(`${node.name}: kubelet was not running: started`);
    await sh('systemctl start kubelet');
  }
  if (isControlPlane(node)) {
    await sh(
      restarts.has('keepalived')
        ? 'systemctl enable keepalived >/dev/null 2>&1; systemctl restart keepalived'
        : 'systemctl enable --now keepalived >/dev/null 2>&1',
    );
  }
}

export interface KubeadmFacts {
  /** kubeadm init or join finished here (its kubelet has a kubeconfig). */
  readonly joined: boolean;
  /** This node holds admin.conf: it ran kubeadm init. */
  readonly admin: boolean;
  /** Something of an earlier, unfinished init or join is there (static pod manifests, a kubelet config). */
  readonly partial: boolean;
}

export async function kubeadmFacts(host: Host): Promise<KubeadmFacts> {
  const r = await host.exec(
    [
      'sh',
      '-c',
      `test -f ${DONE} && test -f /etc/kubernetes/kubelet.conf && echo done; test -f /etc/kubernetes/admin.conf && echo admin; ` +
        'ls /etc/kubernetes/manifests/*.yaml >/dev/null 2>&1 && echo manifests; test -f /var/lib/kubelet/config.yaml && echo config; ' +
        'test -f /etc/kubernetes/kubelet.conf && echo kubelet; true',
    ],
    { sudo: true },
  );
  const has = new Set(r.stdout.split('\n').map((l) => l.trim()));
  // kubeadm writes its kubeconfigs before the control plane is up: only civostack's mark, written
  // when kubeadm init or join returned 0, says it finished.
  const joined = has.has('done');
  return {
    joined,
    admin: joined && has.has('admin'),
    partial: !joined && ['manifests', 'config', 'kubelet', 'admin'].some((x) => has.has(x)),
  };
}

/** An earlier attempt that did not finish is undone first, so init and join always start clean. */
async function resetIfPartial(host: Host, facts: KubeadmFacts, log: (m: string) => void): Promise<void> {
  if (!facts.partial) return;
  log(`${host.name}: an unfinished kubeadm run was left here; kubeadm reset first`);
  await host.exec(['kubeadm', 'reset', '--force', `--cri-socket=${CRI_SOCKET}`], { sudo: true });
  await host.exec(['rm', '-rf', '/var/lib/etcd', DONE], { sudo: true });
}

async function writeConfig(host: Host, content: string, secrets: readonly string[]): Promise<void> {
  await host.upload(KUBEADM_CONFIG, content, { mode: 0o600, sudo: true, redact: secrets });
}

/**
 * Fatal preflight checks that fail on a node that is merely slow, not wrong: the container runtime
 * not answering kubeadm's short connection deadline (a starved machine, containerd restarting). A
 * preflight failure changes nothing on the node, so kubeadm is run again after a pause.
 */
const TRANSIENT_PREFLIGHT = new Set(['CRI']);
export const PREFLIGHT_ATTEMPTS = 4;

/** kubeadm's fatal preflight checks in its output: `[ERROR CRI]: could not connect …`. */
export function preflightErrors(output: string): { check: string; message: string }[] {
  return [...output.matchAll(/\[ERROR ([^\]]+)\]:[ \t]*(.*)/g)].map((m) => ({
    check: m[1]!,
    message: m[2]!.trim(),
  }));
}

/** kubeadm failed: the message names the checks that failed (or kubeadm's last lines), never a secret. */
export class KubeadmError extends RemoteCommandError {
  constructor(
    host: string,
    command: string,
    result: ExecResult,
    secrets: readonly string[],
    logPath?: string,
  ) {
    super(host, command, result, logPath);
    const failed = preflightErrors(`${result.stderr}\n${result.stdout}`);
    if (failed.length > 0)
      this.message = redact(
        `${host}: \`${command}\` failed its preflight checks: ${failed.map((f) => `${f.check}: ${f.message}`).join('; ')}`,
        secrets,
      );
    else this.message = redact(this.message, secrets);
    this.name = 'KubeadmError';
  }
}

/** Runs kubeadm (init or join); preflight failures of a slow node are tried again, others fail at once. */
export async function runKubeadm(
  host: Host,
  argv: readonly string[],
  secrets: readonly string[],
  log: (m: string) => void,
  signal?: AbortSignal,
  pauseMs = 10_000,
): Promise<void> {
  const command = argv.join(' ');
  for (let attempt = 1; ; attempt++) {
    const r = await host.exec(argv, {
      sudo: true,
      redact: secrets,
      allowFailure: true,
      ...(signal ? { signal } : {}),
    });
    if (r.code === 0) return;
    signal?.throwIfAborted();
    const failed = preflightErrors(`${r.stderr}\n${r.stdout}`);
    const slow =
      /error execution phase preflight/.test(r.stderr) &&
      failed.length > 0 &&
      failed.every((f) => TRANSIENT_PREFLIGHT.has(f.check));
    if (!slow || attempt >= PREFLIGHT_ATTEMPTS)
      throw new KubeadmError(host.name, command, r, secrets, host.logPath);
    log(
      `${host.name}: ${argv.slice(0, 2).join(' ')}: the container runtime did not answer kubeadm's preflight check in time; ` +
        `again in ${pauseMs / 1000} s (attempt ${attempt + 1} of ${PREFLIGHT_ATTEMPTS})`,
    );
    await sleep(pauseMs, undefined, signal ? { signal } : {});
  }
}

/** kubeadm init on the init server; returns admin.conf (its server is the API VIP). */
export async function kubeadmInit(
  host: Host,
  config: { content: string; secrets: readonly string[] },
  facts: KubeadmFacts,
  log: (m: string) => void,
  signal?: AbortSignal,
): Promise<string> {
  if (!facts.admin) {
    await resetIfPartial(host, facts, log);
    await writeConfig(host, config.content, config.secrets);
    log(`${host.name}: kubeadm init (the control plane starts; minutes under software emulation)`);
    await runKubeadm(
      host,
      ['kubeadm', 'init', `--config=${KUBEADM_CONFIG}`, '--upload-certs'],
      config.secrets,
      log,
      signal,
    );
    await host.exec(['touch', DONE], { sudo: true });
  }
  const admin = await host.exec(['cat', '/etc/kubernetes/admin.conf'], {
    sudo: true,
    logAs: 'cat /etc/kubernetes/admin.conf',
    secretOutput: true,
  });
  return admin.stdout;
}

/** kubeadm join, for a worker or a further control-plane node (whose certificates init uploaded). */
export async function kubeadmJoin(
  host: Host,
  config: { content: string; secrets: readonly string[] },
  facts: KubeadmFacts,
  log: (m: string) => void,
  signal?: AbortSignal,
  pauseMs?: number,
): Promise<void> {
  if (facts.joined) return;
  await resetIfPartial(host, facts, log);
  await writeConfig(host, config.content, config.secrets);
  log(`${host.name}: kubeadm join`);
  await runKubeadm(
    host,
    ['kubeadm', 'join', `--config=${KUBEADM_CONFIG}`],
    config.secrets,
    log,
    signal,
    pauseMs,
  );
  await host.exec(['touch', DONE], { sudo: true });
}

/** Certificates for joining control planes expire from the cluster after two hours: upload them again. */
export async function uploadCerts(host: Host, secrets: readonly string[]): Promise<void> {
  await host.exec(
    ['kubeadm', 'init', 'phase', 'upload-certs', '--upload-certs', `--config=${KUBEADM_CONFIG}`],
    {
      sudo: true,
      redact: secrets,
    },
  );
}

/** kubeadm's discovery pin: sha256 of the cluster CA's SubjectPublicKeyInfo, from admin.conf. */
export function caCertHash(adminConf: string): string {
  const doc = jsYaml.load(adminConf) as {
    clusters?: { cluster?: { 'certificate-authority-data'?: string } }[];
  };
  const data = doc.clusters?.[0]?.cluster?.['certificate-authority-data'];
  if (!data) throw new UserError('admin.conf holds no cluster CA');
  const cert = new X509Certificate(Buffer.from(data, 'base64'));
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

export interface EtcdMember {
  readonly name: string;
  readonly learner: boolean;
}

/** etcd's members as etcd sees them, asked on a control-plane node with kubeadm's healthcheck client certificate. */
export async function etcdMembers(host: Host): Promise<EtcdMember[]> {
  const r = await host.exec(
    [
      'etcdctl',
      '--endpoints=https://127.0.0.1:2379',
      '--cacert=/etc/kubernetes/pki/etcd/ca.crt',
      '--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt',
      '--key=/etc/kubernetes/pki/etcd/healthcheck-client.key',
      '--command-timeout=10s',
      'member',
      'list',
      '-w',
      'json',
    ],
    { sudo: true },
  );
  const parsed = JSON.parse(r.stdout) as { members?: { name?: string; isLearner?: boolean }[] };
  return (parsed.members ?? []).map((m) => ({ name: m.name ?? '', learner: m.isLearner === true }));
}
