// The k3s distribution on one node, from K3s' own airgap artifacts: the binary, the images tarball
// (K3s imports it from agent/images at start) and the install script, run with
// INSTALL_K3S_SKIP_DOWNLOAD=true; config.yaml from the render, tokens by file (0600), never on a
// command line. The API VIP is held by keepalived on the servers, as with kubeadm.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { NodePlan, Plan } from '../plan/index.js';
import type { Host } from '../remote/index.js';
import { K3S_AGENT_TOKEN_FILE, K3S_TOKEN_FILE, k3sConfig } from '../render/k3s.js';
import { isControlPlane, keepalivedConfig, type KubeadmInputs } from './kubeadm-render.js';
import type { StagedFile, StageList } from './kubeadm.js';

export const K3S_IMAGES_DIR = '/var/lib/rancher/k3s/agent/images';
const INSTALL_SCRIPT = '/usr/local/bin/k3s-install.sh';

export interface K3sAirgap {
  readonly binary: string;
  readonly images: string;
  readonly installScript: string;
}

/** The airgap folder's three files, or one error naming each that is missing. */
export function k3sAirgap(dir: string): K3sAirgap {
  const files = existsSync(dir) ? readdirSync(dir) : [];
  const images = files.find((f) => /^k3s-airgap-images-amd64\.tar(\.zst|\.gz)?$/.test(f));
  const missing = [
    ...(files.includes('k3s') ? [] : ['k3s (the binary)']),
    ...(images ? [] : ['k3s-airgap-images-amd64.tar.zst (or .tar.gz, .tar)']),
    ...(files.includes('install.sh') ? [] : ['install.sh (get.k3s.io)']),
  ];
  if (missing.length > 0)
    throw new UserError(
      `the K3s airgap folder ${dir} lacks ${missing.join(', ')}`,
      "put K3s' release artifacts there (https://github.com/k3s-io/k3s/releases), or use distribution: kubeadm",
    );
  return { binary: join(dir, 'k3s'), images: join(dir, images!), installScript: join(dir, 'install.sh') };
}

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

/** What one K3s node needs; artifact hashes are computed by the caller (fileSha) once per run. */
export function k3sStageList(
  plan: Plan,
  node: NodePlan,
  airgap: K3sAirgap,
  fileSha: (path: string) => string,
  inputs: KubeadmInputs,
): StageList {
  const art = (path: string, remote: string, mode: number): StagedFile => ({
    path: remote,
    sha256: fileSha(path),
    source: { file: path },
    mode,
    secrets: [],
  });
  const text = (
    path: string,
    content: string,
    mode: number,
    secrets: readonly string[] = [],
  ): StagedFile => ({
    path,
    sha256: sha(content),
    source: content,
    mode,
    secrets,
  });
  const token = inputs.secrets.get('k3s/token');
  const agentToken = inputs.secrets.get('k3s/agent-token');
  const server = isControlPlane(node);
  const files: StagedFile[] = [
    art(airgap.binary, '/usr/local/bin/k3s', 0o755),
    art(airgap.images, `${K3S_IMAGES_DIR}/${airgap.images.split('/').at(-1)}`, 0o644),
    art(airgap.installScript, INSTALL_SCRIPT, 0o755),
    text('/etc/rancher/k3s/config.yaml', k3sConfig(plan, node), 0o600),
    text(K3S_AGENT_TOKEN_FILE, `${agentToken}\n`, 0o600, [agentToken]),
    ...(server ? [text(K3S_TOKEN_FILE, `${token}\n`, 0o600, [token])] : []),
  ];
  if (server) {
    const password = inputs.secrets.get('keepalived/password');
    files.push({
      ...text('/etc/keepalived/keepalived.conf', keepalivedConfig(plan, node, inputs), 0o600, [password]),
      restarts: 'keepalived',
    });
  }
  return { files, images: [] };
}

export function fileSha256(path: string, cache: Map<string, string>, read: (p: string) => Buffer): string {
  const key = `${path}:${statSync(path).mtimeMs}`;
  let v = cache.get(key);
  if (!v) {
    v = createHash('sha256').update(read(path)).digest('hex');
    cache.set(key, v);
  }
  return v;
}

const unit = (node: NodePlan) => (isControlPlane(node) ? 'k3s' : 'k3s-agent');

/** Whether K3s runs here (its systemd unit is active). */
export async function k3sActive(host: Host, node: NodePlan): Promise<boolean> {
  const r = await host.exec(['systemctl', 'is-active', '-q', unit(node)], { sudo: true, allowFailure: true });
  return r.code === 0;
}

/** The install script, offline: K3s' own systemd unit, started; the config and tokens are already in place. */
export async function k3sInstall(host: Host, node: NodePlan, signal?: AbortSignal): Promise<void> {
  await host.exec(
    [
      'env',
      'INSTALL_K3S_SKIP_DOWNLOAD=true',
      `INSTALL_K3S_EXEC=${isControlPlane(node) ? 'server' : 'agent'}`,
      'sh',
      INSTALL_SCRIPT,
    ],
    { sudo: true, ...(signal ? { signal } : {}) },
  );
}

/** K3s' admin kubeconfig, pointed at the API VIP instead of 127.0.0.1. */
export async function k3sKubeconfig(host: Host, apiVip: string): Promise<string> {
  const r = await host.exec(['cat', '/etc/rancher/k3s/k3s.yaml'], {
    sudo: true,
    logAs: 'cat /etc/rancher/k3s/k3s.yaml',
    secretOutput: true,
  });
  return r.stdout.replace(/server: https:\/\/127\.0\.0\.1:6443/g, `server: https://${apiVip}:6443`);
}
