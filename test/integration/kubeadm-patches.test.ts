/* eslint-disable @typescript-eslint/no-explicit-any -- static Pod manifests, read field by field */
// The probe patches civostack stages for kubeadm, applied by the real kubeadm (built from its Go
// module): a dry run of the control plane's static Pods, written to a folder of this test's own,
// carries the patched startup and liveness probes for etcd and every control-plane component.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import jsYaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { ensureKubeArtifacts } from '../../src/kube/index.js';
import { probePatches } from '../../src/kube/kubeadm-render.js';
import { tempDir } from '../helpers/manifest.js';

describe('kubeadm probe patches', () => {
  it("give etcd and each control-plane component 10 minutes to start and 5 minutes of failed liveness checks, in kubeadm's own manifests", async () => {
    const artifacts = await ensureKubeArtifacts();
    const kubeadm = artifacts.files.find((f) => f.name === 'kubeadm')!.path;
    const dir = tempDir('civostack-patches-');
    const patches = join(dir, 'patches');
    mkdirSync(patches);
    for (const p of probePatches()) writeFileSync(join(patches, basename(p.path)), p.content);
    const config = join(dir, 'kubeadm.yaml');
    writeFileSync(
      config,
      [
        'apiVersion: kubeadm.k8s.io/v1beta4',
        'kind: InitConfiguration',
        'localAPIEndpoint: {advertiseAddress: 10.101.0.10, bindPort: 6443}',
        'nodeRegistration: {name: r01-n01, criSocket: unix:///run/containerd/containerd.sock}',
        `patches: {directory: ${patches}}`,
        '---',
        'apiVersion: kubeadm.k8s.io/v1beta4',
        'kind: ClusterConfiguration',
        `kubernetesVersion: ${artifacts.kubernetesVersion}`,
        '',
      ].join('\n'),
    );
    const out = join(dir, 'dry-run');
    mkdirSync(out);
    // KUBEADM_INIT_DRYRUN_DIR: the manifests land here, never under /etc/kubernetes.
    const env = { KUBEADM_INIT_DRYRUN_DIR: out };
    for (const phase of [
      ['etcd', 'local'],
      ['control-plane', 'all'],
    ]) {
      const r = await execa(kubeadm, ['init', 'phase', ...phase, `--config=${config}`, '--dry-run'], {
        env,
        reject: false,
      });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Applied patch of type "application\/strategic-merge-patch\+json"/);
    }
    const manifests = readdirSync(out)
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    expect(manifests).toEqual([
      'etcd.yaml',
      'kube-apiserver.yaml',
      'kube-controller-manager.yaml',
      'kube-scheduler.yaml',
    ]);
    for (const file of manifests) {
      const pod = jsYaml.load(readFileSync(join(out, file), 'utf8')) as any;
      const c = pod.spec.containers[0];
      expect({
        file,
        startup: [
          c.startupProbe.timeoutSeconds,
          c.startupProbe.failureThreshold,
          c.startupProbe.periodSeconds,
        ],
      }).toEqual({ file, startup: [30, 60, 10] });
      expect({ file, liveness: [c.livenessProbe.timeoutSeconds, c.livenessProbe.failureThreshold] }).toEqual({
        file,
        liveness: [30, 10],
      });
    }
  }, 600_000);
});
