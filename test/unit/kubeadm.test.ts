/* eslint-disable @typescript-eslint/no-explicit-any -- kubectl JSON and kubeadm YAML, read field by field as a person would */
// The kubeadm distribution's files, from the lab Plan: who inits and who joins, the VIP, the pod
// ranges and their routes, and that every secret is marked (so diffs redact it).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import jsYaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { caCertHash } from '../../src/kube/kubeadm.js';
import {
  controlPlaneOrder,
  DEFAULT_IMAGES,
  kubeadmConfig,
  kubeadmNodeFiles,
  KUBEADM_CONFIG,
  podRoutes,
} from '../../src/kube/kubeadm-render.js';
import { loadRegion } from '../../src/manifest/index.js';
import { planRegion, type Plan } from '../../src/plan/index.js';
import { secretValues } from '../../src/render/secrets.js';
import { labWith, LAB, tempDir } from '../helpers/manifest.js';

function regionOf(file: string) {
  const r = loadRegion(file);
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.region;
}

function planOf(file: string): Plan {
  return planRegion(regionOf(file), {}, { prune: false }).plan;
}

const SECRETS = new Map([
  ['kubeadm/token', 'abcdef.0123456789abcdef'],
  ['kubeadm/certificate-key', 'f'.repeat(64)],
  ['keepalived/password', 'pw345678'],
]);
const inputs = { ...DEFAULT_IMAGES, secrets: secretValues(SECRETS) };

describe('kubeadm files', () => {
  const plan = planOf(LAB);
  const [n01, n02, n03] = plan.nodes;

  it('inits on the init server with the VIP as endpoint and in the SANs, and joins the others through the VIP', () => {
    const init = jsYaml.loadAll(kubeadmConfig(plan, n01!, inputs)) as Record<string, any>[];
    expect(init.map((d) => d['kind'])).toEqual([
      'InitConfiguration',
      'ClusterConfiguration',
      'KubeletConfiguration',
    ]);
    expect(init[1]!['controlPlaneEndpoint']).toBe('10.101.0.5:6443');
    expect(init[1]!['apiServer'].certSANs).toContain('10.101.0.5');
    expect(init[1]!['kubernetesVersion']).toBe('v1.35.4');
    expect(init[0]!['nodeRegistration'].kubeletExtraArgs).toEqual([
      { name: 'node-ip', value: n01!.node.address },
    ]);
    const join = jsYaml.loadAll(kubeadmConfig(plan, n02!, inputs, 'sha256:00')) as Record<string, any>[];
    expect(join[0]!['kind']).toBe('JoinConfiguration');
    expect(join[0]!['discovery'].bootstrapToken).toEqual({
      apiServerEndpoint: '10.101.0.5:6443',
      token: 'abcdef.0123456789abcdef',
      caCertHashes: ['sha256:00'],
    });
    expect(join[0]!['controlPlane']).toBeUndefined();
  });

  it("lets /healthz wait for a slow etcd longer than upstream's 2 s, and less than the API server's probes wait for /healthz", () => {
    const cluster = (jsYaml.loadAll(kubeadmConfig(plan, n01!, inputs)) as Record<string, any>[])[1]!;
    const args = cluster['apiServer'].extraArgs as { name: string; value: string }[];
    const etcdWait = args.find((a) => a.name === 'etcd-healthcheck-timeout')?.value ?? '2s';
    const seconds = Number(/^(\d+)s$/.exec(etcdWait)?.[1]);
    expect(seconds).toBeGreaterThanOrEqual(10);
    const patch = kubeadmNodeFiles(plan, n01!, inputs).find((f) =>
      f.path.endsWith('/kube-apiserver+strategic.yaml'),
    )!;
    const probes = (jsYaml.load(patch.content) as any).spec.containers[0];
    for (const probe of [probes.startupProbe, probes.livenessProbe])
      expect(seconds).toBeLessThan(probe.timeoutSeconds);
  });

  it('gives every node its own recorded pod range, routed from every other node', () => {
    const ranges = plan.nodes.map((n) => n.podCidr);
    expect(new Set(ranges).size).toBe(3);
    for (const r of ranges) expect(r).toMatch(/^10\.42\.\d+\.0\/24$/);
    const routes = podRoutes(plan, n01!)
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(routes).toEqual([
      `${n02!.podCidr} via ${n02!.node.address} dev bond0.20`,
      `${n03!.podCidr} via ${n03!.node.address} dev bond0.20`,
    ]);
    // Adding a node (first in the rack) never moves another's range.
    const first = planRegion(regionOf(LAB), {}, { prune: false });
    const grown = planRegion(
      regionOf(
        labWith((m) => {
          m.racks[0].nodes.splice(0, 0, {
            name: 'r01-n00',
            role: 'worker',
            sku: 'lab-vm-bios',
            slot: 9,
            bmcMac: '52:54:00:0c:00:09',
            nics: [{ mac: '52:54:00:aa:00:09' }, { mac: '52:54:00:bb:00:09' }],
          });
        }),
      ),
      first.allocations,
      { prune: false },
    ).plan;
    expect(grown.nodes).toHaveLength(4);
    for (const n of plan.nodes) expect(grown.nodes.find((x) => x.name === n.name)!.podCidr).toBe(n.podCidr);
    expect(ranges).not.toContain(grown.nodes.find((x) => x.name === 'r01-n00')!.podCidr);
  });

  it('puts the VIP on the control planes with keepalived, and marks every file that holds a secret', () => {
    const files = kubeadmNodeFiles(plan, n01!, inputs);
    const keepalived = files.find((f) => f.path === '/etc/keepalived/keepalived.conf')!;
    expect(keepalived.content).toContain('10.101.0.5/24 dev bond0.20');
    expect(keepalived.mode).toBe(0o600);
    expect(keepalived.secrets).toEqual(['pw345678']);
    const config = files.find((f) => f.path === KUBEADM_CONFIG)!;
    expect(config.mode).toBe(0o600);
    expect(config.secrets).toEqual(['abcdef.0123456789abcdef', 'f'.repeat(64)]);
    for (const f of files)
      for (const v of SECRETS.values()) if (f.content.includes(v)) expect(f.secrets).toContain(v);
    // Workers hold no VIP.
    expect(kubeadmNodeFiles(plan, n02!, inputs).some((f) => f.path.includes('keepalived'))).toBe(false);
    expect(controlPlaneOrder(plan).map((n) => n.name)).toEqual(['r01-n01']);
  });

  it('with three control planes, advertises the VIP by unicast to the two others, the init server preferred', () => {
    const ha = planOf(
      labWith((m) => {
        for (const n of m.racks[0].nodes) n.role = 'control-plane';
      }),
    );
    expect(controlPlaneOrder(ha).map((n) => n.name)).toEqual(['r01-n01', 'r01-n02', 'r01-n03']);
    const conf = (i: number) =>
      kubeadmNodeFiles(ha, ha.nodes[i]!, inputs).find((f) => f.path === '/etc/keepalived/keepalived.conf')!
        .content;
    expect(conf(0)).toContain(
      `unicast_peer {\n    ${ha.nodes[1]!.node.address}\n    ${ha.nodes[2]!.node.address}\n  }`,
    );
    expect(conf(0)).toContain('priority 150');
    expect(conf(2)).toContain('priority 130');
    // A further control plane joins with the certificate key and its own API endpoint.
    const join = jsYaml.loadAll(kubeadmConfig(ha, ha.nodes[1]!, inputs, 'sha256:00')) as Record<
      string,
      any
    >[];
    expect(join[0]!['controlPlane']).toEqual({
      localAPIEndpoint: { advertiseAddress: ha.nodes[1]!.node.address, bindPort: 6443 },
      certificateKey: 'f'.repeat(64),
    });
    // The lone control plane of the lab has no unicast block at all.
    expect(
      kubeadmNodeFiles(plan, n01!, inputs).find((f) => f.path.endsWith('keepalived.conf'))!.content,
    ).not.toContain('unicast');
  });

  it('pins the cluster CA as kubeadm does (sha256 of its SubjectPublicKeyInfo), checked against openssl', () => {
    const dir = tempDir('civostack-ca-');
    const key = join(dir, 'ca.key');
    const crt = join(dir, 'ca.crt');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        crt,
        '-subj',
        '/CN=kubernetes',
        '-days',
        '1',
      ],
      { stdio: 'ignore' },
    );
    const pem = readFileSync(crt);
    const admin = jsYaml.dump({
      clusters: [{ cluster: { 'certificate-authority-data': pem.toString('base64') } }],
    });
    const der = execFileSync('sh', [
      '-c',
      `openssl x509 -pubkey -in ${crt} -noout | openssl pkey -pubin -outform der | sha256sum`,
    ]).toString();
    expect(caCertHash(admin)).toBe(`sha256:${der.split(' ')[0]}`);
  });
});
