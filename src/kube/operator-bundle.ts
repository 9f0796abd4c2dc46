// The operator bundle that `civostack region up` applies last (the Region and TenantCluster CRDs,
// RBAC, the operator's Deployment, rendered from templates/operator/) and the Region object it
// then applies.
import { UserError } from '../errors.js';
import { IMAGE_REF, operatorFlag, PROBE_FLAG_NAME } from '../manifest/index.js';
import { createEngine, type Templates } from '../render/engine.js';
import type { Plan } from '../plan/index.js';
import { loadTemplates } from '../templates.js';

export interface OperatorBundleInput {
  /** Image reference, such as localhost/civostack-operator:0.1.0. */
  readonly image: string;
  /** The API VIP (or a name for it) and port the operator talks to: it runs on the host network. */
  readonly apiHost: string;
  readonly apiPort: number;
  /** The manifest's operator.values: each entry becomes the operator flag `--key=value`. */
  readonly values: Readonly<Record<string, unknown>>;
  /** What the operator needs to run TenantClusters; without it, it refuses every one and says why. */
  readonly tenants?: TenantSettings;
}

/** The region as tenant control planes see it: see tenantSettings. */
export interface TenantSettings {
  /** Kubernetes versions whose control-plane images the region has, such as v1.35.4. */
  readonly versions: readonly string[];
  /** The etcd image of the region's artifacts. */
  readonly etcdImage: string;
  /** The region's networks by name: a tenant's pod and service networks may overlap none. */
  readonly networks: Readonly<Record<string, string>>;
}

/**
 * TenantSettings from the region's plan and its Kubernetes artifacts (their version and etcd
 * image): every network the plan allocates from, public pools included.
 */
export function tenantSettings(
  networks: Plan['networks'],
  artifacts: { readonly kubernetesVersion: string; readonly etcdImage: string },
): TenantSettings {
  const { public: pools, ...named } = networks;
  return {
    versions: [artifacts.kubernetesVersion],
    etcdImage: artifacts.etcdImage,
    networks: { ...named, ...Object.fromEntries(pools.map((cidr, i) => [`public-${i}`, cidr])) },
  };
}

export interface BundleFile {
  /** File name, such as crd.yaml; the list is in apply order. */
  readonly name: string;
  readonly yaml: string;
}

/** In apply order: the CRD and the RBAC before the Deployment that needs them. */
const BUNDLE = ['crd.yaml', 'tenantcluster-crd.yaml', 'rbac.yaml', 'deployment.yaml'] as const;

/** The probes of the Deployment point at this address, so values may not move it. */
const PROBE_FLAG = `--${PROBE_FLAG_NAME}=:8081`;

const HOST = /^(\d{1,3}(\.\d{1,3}){3}|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)$/;
const VERSION = /^v\d+\.\d+\.\d+$/;
const CIDR = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;
const NETWORK_NAME = /^[a-z][a-z0-9-]*$/;

/**
 * Renders the bundle, deterministically (same input, same bytes). Pure when given `templates`;
 * by default they are read from the templates/ folder civostack ships.
 */
export function renderOperatorBundle(
  input: OperatorBundleInput,
  templates: Templates = loadTemplates(),
): BundleFile[] {
  if (!IMAGE_REF.test(input.image)) {
    throw new UserError(
      `operator.image "${input.image}" is not an image reference`,
      'Write it as registry/name:tag, for example localhost/civostack-operator:0.1.0.',
    );
  }
  if (!HOST.test(input.apiHost)) {
    throw new UserError(`the API address "${input.apiHost}" is neither an IPv4 address nor a host name`);
  }
  if (!Number.isInteger(input.apiPort) || input.apiPort < 1 || input.apiPort > 65535) {
    throw new UserError(`the API port ${input.apiPort} is not a TCP port`);
  }
  const context = {
    image: input.image,
    apiHost: input.apiHost,
    apiPort: input.apiPort,
    args: operatorArgs(input.values, tenantFlags(input)).map((a) => JSON.stringify(a)),
  };
  const engine = createEngine(templates);
  return BUNDLE.map((name) => ({ name, yaml: engine.template(`operator/${name}.hbs`)(context) }));
}

/**
 * The operator's TenantCluster flags: the versions and etcd image tenants may use, the region's
 * networks (name=CIDR in name order), and the host clients reach tenant APIs at (the API VIP).
 */
export function tenantFlags(input: OperatorBundleInput): string[] {
  const flags = [`--tenant-endpoint-host=${input.apiHost}`];
  const t = input.tenants;
  if (t === undefined) return flags;
  for (const v of t.versions)
    if (!VERSION.test(v)) throw new UserError(`the Kubernetes version "${v}" is not vMAJOR.MINOR.PATCH`);
  if (!IMAGE_REF.test(t.etcdImage))
    throw new UserError(`the etcd image "${t.etcdImage}" is not an image reference`);
  const names = Object.keys(t.networks).sort();
  for (const name of names)
    if (!NETWORK_NAME.test(name) || !CIDR.test(t.networks[name]!))
      throw new UserError(`the region network ${name}=${t.networks[name]} is not name=CIDR`);
  return [
    `--region-networks=${names.map((n) => `${n}=${t.networks[n]}`).join(',')}`,
    `--tenant-etcd-image=${t.etcdImage}`,
    ...flags,
    `--tenant-versions=${[...t.versions].sort().join(',')}`,
  ];
}

/**
 * The operator's command line: the probe address, the flags the bundle sets (`fixed`), then one
 * flag per value in key order.
 */
export function operatorArgs(
  values: Readonly<Record<string, unknown>>,
  fixed: readonly string[] = [],
): string[] {
  const args = [PROBE_FLAG, ...fixed];
  for (const key of Object.keys(values).sort()) {
    const flag = operatorFlag(key, values[key]);
    if (!flag.ok) throw new UserError(`operator.values.${key}: ${flag.reason}`, flag.hint);
    args.push(flag.flag);
  }
  return args;
}

export interface RegionNodeSpec {
  readonly name: string;
  readonly rack: string;
  readonly role: string;
  readonly sku: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly taints?: readonly { readonly key: string; readonly value?: string; readonly effect: string }[];
}

export interface RegionObject {
  readonly apiVersion: 'civostack.io/v1alpha1';
  readonly kind: 'Region';
  readonly metadata: { readonly name: string };
  readonly spec: { readonly region: string; readonly nodes: readonly RegionNodeSpec[] };
}

/** The Region resource civostack applies once the bundle is in; nodes sorted by name. */
export function regionObject(input: {
  readonly region: string;
  readonly nodes: readonly RegionNodeSpec[];
}): RegionObject {
  const nodes = [...input.nodes]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((n) => ({
      name: n.name,
      rack: n.rack,
      role: n.role,
      sku: n.sku,
      ...(n.labels !== undefined && { labels: n.labels }),
      ...(n.taints !== undefined && { taints: n.taints }),
    }));
  return {
    apiVersion: 'civostack.io/v1alpha1',
    kind: 'Region',
    metadata: { name: input.region },
    spec: { region: input.region, nodes },
  };
}
