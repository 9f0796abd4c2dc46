// civostack-operator against a real kube-apiserver and etcd: `go test` in src/operator runs its
// envtest suites (the Region and TenantCluster reconcilers in managers, Node objects and posted
// StatefulSet/Deployment status standing in for kubelets and controllers) with
// KUBEBUILDER_ASSETS set to the control-plane binaries of civostack's Kubernetes artifacts.
// The artifacts come from the cache `civostack kube artifacts` fills; without it this test builds
// them first, which takes many minutes.
import { symlinkSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CACHE_DIR, ensureKubeArtifacts, type KubeArtifacts } from '../../src/kube/artifacts.js';
import { tempDir } from '../helpers/manifest.js';

const CACHE = process.env.CIVOSTACK_CACHE_DIR ?? DEFAULT_CACHE_DIR;
const OPERATOR_DIR = fileURLToPath(new URL('../../src/operator/', import.meta.url));
/** A cold Kubernetes build on two cores. */
const BUILD_TIMEOUT = 60 * 60_000;
/** Compiling the operator's test binary (controller-runtime, envtest) cold, then running it. */
const GO_TEST_TIMEOUT = 30 * 60_000;

/**
 * Copies `binary` out of an image archive made by writeImageArchive: manifest.json names the one
 * layer, and the layer holds the binary under /usr/local/bin.
 */
async function extractFromImage(archive: string, binary: string, dir: string): Promise<void> {
  const manifest = JSON.parse((await execa('tar', ['-xOf', archive, 'manifest.json'])).stdout) as {
    Layers: string[];
  }[];
  const layer = manifest[0]?.Layers[0];
  if (layer === undefined) throw new Error(`${archive}: manifest.json names no layer`);
  // Through a file, not a pipe: the layer is ~100 MB and a pipe's source output would be buffered here.
  const work = tempDir('civostack-layer-');
  try {
    await execa('tar', ['-xf', archive, '-C', work, layer]);
    await execa('tar', [
      '-xf',
      join(work, layer),
      '-C',
      dir,
      '--strip-components=3',
      `usr/local/bin/${binary}`,
    ]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

describe('civostack-operator against kube-apiserver and etcd', () => {
  let artifacts: KubeArtifacts;
  let assets: string;

  beforeAll(async () => {
    artifacts = await ensureKubeArtifacts({ cacheDir: CACHE, log: (line) => console.log(line) });
    assets = tempDir('civostack-envtest-');
    const file = (name: string) => {
      const f = artifacts.files.find((a) => a.name === name);
      if (!f) throw new Error(`the Kubernetes artifacts have no ${name}`);
      return f.path;
    };
    await extractFromImage(file('kube-apiserver'), 'kube-apiserver', assets);
    await extractFromImage(file('etcd'), 'etcd', assets);
    symlinkSync(file('kubectl'), join(assets, 'kubectl'));
  }, BUILD_TIMEOUT);

  afterAll(async () => {
    if (assets) await rm(assets, { recursive: true, force: true });
  });

  it(
    'labels nodes; runs tenant control planes: owned objects, certificates, conditions, refusals, deletion, restart',
    async () => {
      const started = Date.now();
      const r = await execa('go', ['test', '-count=1', '-v', './...'], {
        cwd: OPERATOR_DIR,
        env: { KUBEBUILDER_ASSETS: assets, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly' },
        all: true,
        reject: false,
      });
      const summary = (r.all ?? '').split('\n').filter((l) => /^\s*--- |^(ok|FAIL)\s/.test(l));
      console.log(
        `go test ./... in src/operator: ${((Date.now() - started) / 1000).toFixed(1)} s\n${summary.join('\n')}`,
      );
      expect(r.exitCode, r.all).toBe(0);
      // Ran against the API server, not skipped for want of KUBEBUILDER_ASSETS.
      expect(r.all).toMatch(/^--- PASS: TestRegionAgainstAPIServer /m);
      expect(r.all).not.toMatch(/--- SKIP/);
      for (const sub of [
        'labels_and_taints_the_nodes_that_joined',
        'says_which_nodes_are_missing,_not_Ready_and_unexpected',
        'is_Ready_once_the_cluster_matches_the_Region',
        'writes_nothing_when_reconciling_a_region_that_is_already_right',
      ]) {
        expect(r.all).toMatch(new RegExp(`--- PASS: TestRegionAgainstAPIServer/${sub}`));
      }
      expect(r.all).toMatch(/^--- PASS: TestTenantClusterAgainstAPIServer /m);
      for (const sub of [
        'makes_etcd,_the_control_plane_and_its_Service,_owned_by_the_TenantCluster',
        "issues_certificates_for_every_name_of_its_API,_from_the_tenant's_own_CA",
        'reports_conditions_from_the_StatefulSet_and_Deployment_status',
        'gives_each_tenant_its_own_CA_and_etcd',
        'refuses_at_the_API_what_the_schema_can_see_is_wrong',
        'refuses_what_only_the_region_knows,_with_nothing_made',
        'deleting_it_removes_everything_it_made',
        'a_controller_stopped_mid-create_leaves_what_a_new_one_finishes',
        'writes_nothing_when_reconciling_a_tenant_that_is_already_right',
      ]) {
        expect(r.all).toContain(`--- PASS: TestTenantClusterAgainstAPIServer/${sub}`);
      }
    },
    GO_TEST_TIMEOUT,
  );
});
