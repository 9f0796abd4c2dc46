// The operator bundle: the CRDs, RBAC and Deployment civostack applies last, and the Region object.
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import {
  operatorArgs,
  regionObject,
  renderOperatorBundle,
  tenantSettings,
} from '../../src/kube/operator-bundle.js';
import { loadTemplates } from '../../src/templates.js';
import { join } from 'node:path';
import type { RegionContext } from '../../src/apply/context.js';
import { bundleObjects } from '../../src/apply/phases/operator.js';
import type { RegionObject } from '../../src/kube/operator-bundle.js';
import { loadRegion } from '../../src/manifest/index.js';
import { prepare } from '../../src/pipeline.js';
import { labWith, tempDir, type LabManifest } from '../helpers/manifest.js';

const INPUT = {
  image: 'localhost/civostack-operator:0.1.0',
  apiHost: '10.20.0.10',
  apiPort: 6443,
  values: { 'requeue-interval': '10m', 'zap-log-level': 'debug', 'leader-elect': true },
};

type Doc = Record<string, unknown> & { kind: string; metadata: { name: string; namespace?: string } };
const docs = (text: string): Doc[] => yaml.loadAll(text) as Doc[];
const all = () => renderOperatorBundle(INPUT).flatMap((f) => docs(f.yaml));
const deploymentOf = (files: { yaml: string }[]) =>
  files.flatMap((f) => docs(f.yaml)).find((d) => d.kind === 'Deployment') as unknown as DeploymentDoc;
const deployment = () => deploymentOf(renderOperatorBundle(INPUT));

interface Container {
  image: string;
  imagePullPolicy: string;
  args: string[];
  env: { name: string; value: string }[];
  livenessProbe: { httpGet: { port: number } };
  readinessProbe: { httpGet: { port: number } };
}
interface DeploymentDoc {
  metadata: { namespace: string };
  spec: {
    replicas: number;
    template: {
      spec: {
        hostNetwork: boolean;
        dnsPolicy: string;
        serviceAccountName: string;
        tolerations: { key: string }[];
        containers: Container[];
      };
    };
  };
}

describe('renderOperatorBundle', () => {
  it('renders the same bytes for the same input', () => {
    const a = renderOperatorBundle(INPUT);
    const b = renderOperatorBundle({
      ...INPUT,
      values: Object.fromEntries(Object.entries(INPUT.values).reverse()),
    });
    expect(b).toEqual(a);
    expect(a.map((f) => f.name)).toEqual([
      'crd.yaml',
      'tenantcluster-crd.yaml',
      'rbac.yaml',
      'deployment.yaml',
    ]);
  });

  it('parses as YAML: the CRDs, then the RBAC, then the Deployment', () => {
    expect(all().map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
      'CustomResourceDefinition/regions.civostack.io',
      'CustomResourceDefinition/tenantclusters.civostack.io',
      'Namespace/civostack-system',
      'ServiceAccount/civostack-operator',
      'ClusterRole/civostack-operator',
      'ClusterRoleBinding/civostack-operator',
      'Deployment/civostack-operator',
    ]);
  });

  it('defines Region as cluster-scoped v1alpha1 with a status subresource', () => {
    const crd = all()[0] as unknown as {
      spec: { group: string; scope: string; versions: { name: string; subresources: object }[] };
    };
    expect(crd.spec.group).toBe('civostack.io');
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.spec.versions.map((v) => [v.name, v.subresources])).toEqual([['v1alpha1', { status: {} }]]);
  });

  it('puts the image in the container and the API VIP in its environment', () => {
    const d = deployment();
    const pod = d.spec.template.spec;
    const c = pod.containers[0]!;
    expect(d.metadata.namespace).toBe('civostack-system');
    expect(d.spec.replicas).toBe(1);
    expect(c.image).toBe('localhost/civostack-operator:0.1.0');
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.env).toEqual([
      { name: 'KUBERNETES_SERVICE_HOST', value: '10.20.0.10' },
      { name: 'KUBERNETES_SERVICE_PORT', value: '6443' },
    ]);
    expect([pod.hostNetwork, pod.dnsPolicy, pod.serviceAccountName]).toEqual([
      true,
      'Default',
      'civostack-operator',
    ]);
    expect(pod.tolerations.map((t) => t.key)).toEqual([
      'node-role.kubernetes.io/control-plane',
      'node.kubernetes.io/not-ready',
    ]);
    expect([c.livenessProbe.httpGet.port, c.readinessProbe.httpGet.port]).toEqual([8081, 8081]);
  });

  it('passes values as flags in key order after the probe address', () => {
    expect(deployment().spec.template.spec.containers[0]!.args).toEqual([
      '--health-probe-bind-address=:8081',
      '--tenant-endpoint-host=10.20.0.10',
      '--leader-elect=true',
      '--requeue-interval=10m',
      '--zap-log-level=debug',
    ]);
  });

  it('keeps a value with YAML-special characters one string', () => {
    const out = renderOperatorBundle({ ...INPUT, values: { note: 'a: b # "c"' } });
    const d = docs(out.find((f) => f.name === 'deployment.yaml')!.yaml)[0] as unknown as DeploymentDoc;
    expect(d.spec.template.spec.containers[0]!.args.at(-1)).toBe('--note=a: b # "c"');
  });

  it('is pure when given the templates', () => {
    expect(renderOperatorBundle(INPUT, loadTemplates())).toEqual(renderOperatorBundle(INPUT));
  });

  it.each([
    [{ ...INPUT, image: 'bad image' }, /not an image reference/],
    [{ ...INPUT, apiHost: '10.0.0.1\n  evil: x' }, /neither an IPv4 address nor a host name/],
    [{ ...INPUT, apiPort: 0 }, /not a TCP port/],
  ])('refuses input that would break the YAML (%#)', (input, message) => {
    expect(() => renderOperatorBundle(input)).toThrow(message);
  });
});

describe('tenant settings', () => {
  const NETWORKS = {
    oob: '10.10.0.0/24',
    provisioning: '10.11.0.0/24',
    node: '10.20.0.0/24',
    loopback: '10.30.0.0/24',
    p2p: '10.31.0.0/24',
    public: ['203.0.113.0/26', '198.51.100.0/27'],
    pods: '10.244.0.0/16',
    services: '10.96.0.0/12',
  };
  const tenants = tenantSettings(NETWORKS, {
    kubernetesVersion: 'v1.35.4',
    etcdImage: 'registry.k8s.io/etcd:3.6.16-0',
  });

  it('gives the operator the built version, the etcd image and every network of the plan', () => {
    const args = deploymentOf(renderOperatorBundle({ ...INPUT, tenants })).spec.template.spec.containers[0]!
      .args;
    expect(args.slice(0, 5)).toEqual([
      '--health-probe-bind-address=:8081',
      '--region-networks=loopback=10.30.0.0/24,node=10.20.0.0/24,oob=10.10.0.0/24,p2p=10.31.0.0/24,' +
        'pods=10.244.0.0/16,provisioning=10.11.0.0/24,public-0=203.0.113.0/26,public-1=198.51.100.0/27,' +
        'services=10.96.0.0/12',
      '--tenant-etcd-image=registry.k8s.io/etcd:3.6.16-0',
      '--tenant-endpoint-host=10.20.0.10',
      '--tenant-versions=v1.35.4',
    ]);
  });

  it.each([
    [{ ...tenants, versions: ['1.35'] }, /not vMAJOR.MINOR.PATCH/],
    [{ ...tenants, etcdImage: 'etcd latest' }, /not an image reference/],
    [{ ...tenants, networks: { pods: '10.244.0.0/16,x=y' } }, /pods=10.244.0.0\/16,x=y is not name=CIDR/],
  ])('refuses settings that would break the flags (%#)', (t, message) => {
    expect(() => renderOperatorBundle({ ...INPUT, tenants: t })).toThrow(message);
  });
});

describe('operatorArgs', () => {
  it.each([
    [{ Bad_Name: 'x' }, /not a flag name/],
    [{ 'health-probe-bind-address': ':9000' }, /probes need this flag/],
    [{ nested: { a: 1 } }, /must be a string, a number or a boolean/],
    [{ 'tenant-versions': 'v1.0.0' }, /civostack sets this flag from the region's plan/],
  ])('refuses %j with a UserError', (values, message) => {
    expect(() => operatorArgs(values)).toThrow(UserError);
    expect(() => operatorArgs(values)).toThrow(message);
  });
});

describe('regionObject', () => {
  it('names the Region after the region and sorts its nodes', () => {
    const region = regionObject({
      region: 'lab',
      nodes: [
        { name: 'r02-n1', rack: 'r02', role: 'worker', sku: 'gp-small' },
        { name: 'r01-n1', rack: 'r01', role: 'control-plane', sku: 'gp-small', labels: { a: 'b' } },
      ],
    });
    expect(region).toEqual({
      apiVersion: 'civostack.io/v1alpha1',
      kind: 'Region',
      metadata: { name: 'lab' },
      spec: {
        region: 'lab',
        nodes: [
          { name: 'r01-n1', rack: 'r01', role: 'control-plane', sku: 'gp-small', labels: { a: 'b' } },
          { name: 'r02-n1', rack: 'r02', role: 'worker', sku: 'gp-small' },
        ],
      },
    });
  });
});

describe('the Region the operator phase applies', () => {
  it("carries each node's labels and taints from the manifest, for kubeadm's nodes too", () => {
    const file = labWith((m: LabManifest) => {
      const node = m.racks[0].nodes[1];
      node.labels = { 'storage.example.com/pool': 'fast' };
      node.taints = ['example.com/dedicated=infra:NoSchedule', 'example.com/drain:NoExecute'];
    });
    const loaded = loadRegion(file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded));
    const p = prepare({
      region: loaded.region,
      manifestDir: join(file, '..'),
      state: { path: join(tempDir(), 'state') },
    });
    expect(p.plan.kubernetes.distribution).toBe('kubeadm');
    const ctx = { prepared: () => p } as unknown as RegionContext;
    const region = bundleObjects(ctx).find((o) => o.kind === 'Region') as unknown as RegionObject;
    const worker = region.spec.nodes.find((n) => n.name === p.plan.nodes[1]!.name)!;
    expect(worker.labels).toMatchObject({ 'storage.example.com/pool': 'fast' });
    expect(worker.taints).toEqual([
      { key: 'example.com/dedicated', value: 'infra', effect: 'NoSchedule' },
      { key: 'example.com/drain', effect: 'NoExecute' },
    ]);
    const other = region.spec.nodes.find((n) => n.name === p.plan.nodes[0]!.name)!;
    expect(other.taints).toBeUndefined();
  });
});
