// Kubernetes and OS: an odd control plane, what the OS profile needs, and the files referenced.
import { unsupportedImageExtension } from '../image.js';
import { hasScheme } from '../url.js';
import type { FileRef, Rule } from './context.js';

export const controlPlane: Rule = (ctx) => {
  const servers = ctx.facts.nodes.filter((n) => n.node.role === 'control-plane');
  if (servers.length === 0) {
    const hint =
      ctx.facts.nodes.length > 0 ? 'set role: control-plane on 1, 3 or 5 nodes' : 'add nodes to a rack';
    ctx.error(['racks'], 'no-control-plane', 'the region has no control-plane node', hint);
  } else if (servers.length % 2 === 0) {
    const last = servers.at(-1)!;
    ctx.error(
      [...last.path, 'role'],
      'even-control-plane',
      `the region has ${servers.length} control-plane nodes; etcd needs an odd number for a quorum`,
      `use ${servers.length - 1} or ${servers.length + 1} control-plane nodes`,
    );
  }
};

/** A K3s release names its K3s build (v1.31.4+k3s1); an upstream one for kubeadm does not. */
export const kubernetesVersion: Rule = (ctx) => {
  const k = ctx.manifest.kubernetes;
  const k3sBuild = /\+k3s\d+$/.test(k.version);
  if (k.distribution === 'k3s' && !k3sBuild)
    ctx.error(
      ['kubernetes', 'version'],
      'k3s-version',
      `${k.version} is not a K3s release`,
      `give a K3s release such as ${k.version}+k3s1, or set distribution: kubeadm`,
    );
  if (k.distribution === 'kubeadm' && k3sBuild)
    ctx.error(
      ['kubernetes', 'version'],
      'kubeadm-version',
      `${k.version} is a K3s release; kubeadm installs upstream Kubernetes`,
      `give an upstream release such as ${k.version.replace(/\+k3s\d+$/, '')}, or set distribution: k3s`,
    );
};

export const osProfile: Rule = (ctx) => {
  const os = ctx.manifest.os;
  if (os.profile === 'custom') {
    if (os.image === undefined)
      ctx.error(
        ['os'],
        'missing-image',
        'os.image is required with the custom profile',
        'give image.source (URL or path) and image.sha256, or use profile: lab-debian',
      );
    const ext = os.image && unsupportedImageExtension(os.image.source);
    if (ext !== undefined)
      ctx.error(
        ['os', 'image', 'source'],
        'image-format',
        `the installer cannot unpack a ${ext} image: it would write it to the disk as it is`,
        'give a raw disk image, or one compressed to .gz (gzip), .zst (zstd) or .lzo (lzop)',
      );
    if (os.installer === undefined)
      ctx.error(
        ['os'],
        'missing-installer',
        'os.installer is required with the custom profile',
        'give installer.kernel and installer.initrd (URLs or paths)',
      );
  }
  if (os.profile === 'custom' && os.sshAuthorizedKeys.length === 0 && os.sshAuthorizedKeyFiles.length === 0) {
    ctx.warn(
      ['os'],
      'no-ssh-keys',
      'no SSH keys are authorised on the nodes',
      'only the key civostack generates for itself will log in; add sshAuthorizedKeys for your SREs',
    );
  }
};

export const fileRefs: Rule = (ctx) => {
  const m = ctx.manifest;
  const maybe = (
    path: (string | number)[],
    ref: string | undefined,
    kind: FileRef['kind'] = 'file',
  ): void => {
    if (ref !== undefined && !hasScheme(ref)) ctx.needFile(path, ref, kind);
  };
  maybe(['os', 'image', 'source'], m.os.image?.source);
  maybe(['os', 'installer', 'kernel'], m.os.installer?.kernel);
  maybe(['os', 'installer', 'initrd'], m.os.installer?.initrd);
  m.os.sshAuthorizedKeyFiles.forEach((f, i) => maybe(['os', 'sshAuthorizedKeyFiles', i], f, 'public-keys'));
  maybe(['kubernetes', 'airgap'], m.kubernetes.airgap, 'directory');
  maybe(['operator', 'bundle'], m.operator?.bundle);
  m.hardware.forEach((h, i) => maybe(['hardware', i], h, 'directory'));
  m.racks.forEach((rack, r) =>
    rack.switches.forEach((sw, s) =>
      sw.upstreams?.forEach((up, u) =>
        // A BGP password is a secret like BMC credentials: refused, not only warned, when others may read it.
        maybe(['racks', r, 'switches', s, 'upstreams', u, 'passwordFile'], up.passwordFile, 'secret'),
      ),
    ),
  );
};
