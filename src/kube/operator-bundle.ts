// The operator bundle that `civostack region up` applies last (the Region CRD, RBAC, the
// operator's Deployment, rendered from templates/operator/) and the Region object it then applies.
import { UserError } from '../errors.js';
import { createEngine, type Templates } from '../render/engine.js';
import { loadTemplates } from '../templates.js';

export interface OperatorBundleInput {
  /** Image reference, such as localhost/civostack-operator:0.1.0. */
  readonly image: string;
  /** The API VIP (or a name for it) and port the operator talks to: it runs on the host network. */
  readonly apiHost: string;
  readonly apiPort: number;
  /** The manifest's operator.values: each entry becomes the operator flag `--key=value`. */
  readonly values: Readonly<Record<string, unknown>>;
}

export interface BundleFile {
  /** File name, such as crd.yaml; the list is in apply order. */
  readonly name: string;
  readonly yaml: string;
}

/** In apply order: the CRD and the RBAC before the Deployment that needs them. */
const BUNDLE = ['crd.yaml', 'rbac.yaml', 'deployment.yaml'] as const;

/** The probes of the Deployment point at this address, so values may not move it. */
const PROBE_FLAG = '--health-probe-bind-address=:8081';

const IMAGE_REF =
  /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$/;
const HOST = /^(\d{1,3}(\.\d{1,3}){3}|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)$/;
const FLAG_NAME = /^[a-z][a-z0-9-]*$/;

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
    args: operatorArgs(input.values).map((a) => JSON.stringify(a)),
  };
  const engine = createEngine(templates);
  return BUNDLE.map((name) => ({ name, yaml: engine.template(`operator/${name}.hbs`)(context) }));
}

/** The operator's command line: the probe address, then one flag per value in key order. */
export function operatorArgs(values: Readonly<Record<string, unknown>>): string[] {
  const args = [PROBE_FLAG];
  for (const key of Object.keys(values).sort()) {
    const value = values[key];
    if (!FLAG_NAME.test(key)) {
      throw new UserError(
        `operator.values.${key}: not a flag name`,
        'Each value becomes a flag of the operator: use its name in lower case with dashes, such as requeue-interval.',
      );
    }
    if (key === 'health-probe-bind-address') {
      throw new UserError(`operator.values.${key}: the Deployment's probes need this flag at :8081`);
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new UserError(`operator.values.${key} must be a string, a number or a boolean`);
    }
    args.push(`--${key}=${String(value)}`);
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
