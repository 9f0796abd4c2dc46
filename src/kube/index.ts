// The kube stage: upstream Kubernetes built for the kubeadm distribution, and container images packed without an engine.
export {
  DEFAULT_CACHE_DIR,
  ensureKubeArtifacts,
  loadKubeArtifacts,
  type EnsureKubeArtifactsOptions,
  type KubeArtifactFile,
  type KubeArtifacts,
  type KubeRole,
} from './artifacts.js';
export { writeImageArchive, type ImageArchive, type ImageArchiveOptions, type ImageFile } from './oci.js';
