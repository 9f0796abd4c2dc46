// TenantClusters as an SRE handles them through the region's admin kubeconfig: create one, list
// them with their conditions, fetch a tenant's admin kubeconfig into a 0600 file, delete one.
// The operator does the work; this only talks to the region's API.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delayFor } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { UserError } from '../errors.js';
import { DEFAULT_TENANT_NAMESPACE } from './tenant-defaults.js';
import { writeFileAtomic } from '../state/index.js';
import { apiMessage, retryTransient, statusCode, type Condition } from './api.js';

export const TENANT_GROUP = 'civostack.io';
export const TENANT_VERSION = 'v1alpha1';
export const TENANT_PLURAL = 'tenantclusters';
export { DEFAULT_TENANT_NAMESPACE };

export interface TenantInput {
  readonly name: string;
  readonly namespace: string;
  /** Kubernetes version, such as v1.35.4: one the region built. */
  readonly version: string;
  readonly replicas: number;
  readonly workers: number;
  readonly podCidr: string;
  readonly serviceCidr: string;
  readonly owner: string;
}

export interface TenantSummary {
  readonly name: string;
  readonly namespace: string;
  readonly version: string;
  readonly replicas: number;
  readonly owner: string;
  readonly endpoint: string;
  readonly kubeconfigSecret: string;
  readonly conditions: readonly Condition[];
}

interface TenantObject {
  apiVersion: string;
  kind: 'TenantCluster';
  metadata: { name: string; namespace: string };
  spec: {
    version: string;
    controlPlane: { replicas: number };
    workers: number;
    network: { podCIDR: string; serviceCIDR: string };
    owner: string;
  };
  status?: {
    endpoint?: string;
    kubeconfigSecret?: string;
    conditions?: Condition[];
  };
}

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const VERSION = /^v\d+\.\d+\.\d+$/;
const OWNER = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** The address and prefix of an IPv4 CIDR with no host bits, or undefined. */
function ipv4Cidr(text: string): { readonly base: number; readonly bits: number } | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits > 32) return undefined;
  const base = octets.reduce((a, o) => a * 256 + o, 0);
  const size = 2 ** (32 - bits);
  return base % size === 0 ? { base, bits } : undefined;
}

/**
 * The TenantCluster for `input`, or a UserError naming the flag that is wrong. The operator and the
 * CRD check again, and also what only the region knows (built versions, its own networks).
 */
export function tenantObject(input: TenantInput): TenantObject {
  const problems: string[] = [];
  if (input.name.length > 40 || !DNS_LABEL.test(input.name))
    problems.push(
      `name "${input.name}": a DNS label of at most 40 characters starting with a letter, such as team-a`,
    );
  if (input.namespace.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(input.namespace))
    problems.push(`--namespace "${input.namespace}": a Kubernetes namespace name`);
  if (!VERSION.test(input.version))
    problems.push(`--version "${input.version}": a Kubernetes version such as v1.35.4`);
  if (
    !Number.isInteger(input.replicas) ||
    input.replicas < 1 ||
    input.replicas > 7 ||
    input.replicas % 2 === 0
  )
    problems.push(`--replicas ${input.replicas}: 1, 3, 5 or 7 (etcd needs a majority of an odd number)`);
  if (!Number.isInteger(input.workers) || input.workers < 0 || input.workers > 1000)
    problems.push(`--workers ${input.workers}: from 0 to 1000`);
  const pods = ipv4Cidr(input.podCidr);
  const services = ipv4Cidr(input.serviceCidr);
  if (!pods) problems.push(`--pod-cidr "${input.podCidr}": an IPv4 network such as 10.100.0.0/16`);
  if (!services)
    problems.push(`--service-cidr "${input.serviceCidr}": an IPv4 network such as 10.101.0.0/16`);
  if (pods && services) {
    const end = (c: { base: number; bits: number }) => c.base + 2 ** (32 - c.bits);
    if (pods.base < end(services) && services.base < end(pods))
      problems.push(`--pod-cidr ${input.podCidr} and --service-cidr ${input.serviceCidr} overlap`);
  }
  if (input.owner.length > 63 || !OWNER.test(input.owner))
    problems.push(
      `--owner "${input.owner}": the customer's name or id, letters, digits, '-', '_' or '.' (at most 63)`,
    );
  if (problems.length > 0) throw new UserError(`the TenantCluster is not valid:\n  ${problems.join('\n  ')}`);
  return {
    apiVersion: `${TENANT_GROUP}/${TENANT_VERSION}`,
    kind: 'TenantCluster',
    metadata: { name: input.name, namespace: input.namespace },
    spec: {
      version: input.version,
      controlPlane: { replicas: input.replicas },
      workers: input.workers,
      network: { podCIDR: input.podCidr, serviceCIDR: input.serviceCidr },
      owner: input.owner,
    },
  };
}

function summary(o: TenantObject): TenantSummary {
  return {
    name: o.metadata.name,
    namespace: o.metadata.namespace,
    version: o.spec.version,
    replicas: o.spec.controlPlane.replicas,
    owner: o.spec.owner,
    endpoint: o.status?.endpoint ?? '',
    kubeconfigSecret: o.status?.kubeconfigSecret ?? '',
    conditions: o.status?.conditions ?? [],
  };
}

/** The Ready condition in one line: `True`, or `False (Reason: message)`, or `Unknown` before any. */
export function readiness(t: TenantSummary): string {
  const c = t.conditions.find((x) => x.type === 'Ready');
  if (!c) return 'Unknown (the operator has not looked at it yet)';
  return c.status === 'True' ? 'True' : `${c.status} (${c.reason ?? ''}: ${c.message ?? ''})`;
}

export class TenantApi {
  readonly #custom: k8s.CustomObjectsApi;
  readonly #core: k8s.CoreV1Api;
  readonly #signal: AbortSignal | undefined;
  readonly #wait: (ms: number) => Promise<void>;

  constructor(regionKubeconfig: string, signal?: AbortSignal) {
    const config = new k8s.KubeConfig();
    config.loadFromString(readFileSync(regionKubeconfig, 'utf8'));
    this.#custom = config.makeApiClient(k8s.CustomObjectsApi);
    this.#core = config.makeApiClient(k8s.CoreV1Api);
    this.#signal = signal;
    this.#wait = (ms) => delayFor(ms, undefined, signal ? { signal } : {});
  }

  #call<T>(what: string, call: () => Promise<T>): Promise<T> {
    return retryTransient(call, 30_000, this.#wait).catch((err: unknown) => {
      if (this.#signal?.aborted) throw err;
      const code = statusCode(err);
      if (
        code === 404 &&
        /TenantCluster/.test(what) &&
        /the server could not find the requested resource/i.test(apiMessage(err))
      )
        throw new UserError(
          `${what}: the region's API has no TenantCluster resource`,
          'the operator bundle is not applied: run civostack region up <manifest>',
        );
      throw new UserError(`${what}: ${apiMessage(err)}`);
    });
  }

  /** Creates the TenantCluster (and its namespace when missing); refuses one that exists. */
  async create(input: TenantInput): Promise<void> {
    const body = tenantObject(input);
    await this.#call(`creating namespace ${input.namespace}`, async () => {
      try {
        await this.#core.createNamespace({
          body: { metadata: { name: input.namespace, labels: { 'app.kubernetes.io/part-of': 'civostack' } } },
        });
      } catch (err) {
        if (statusCode(err) !== 409) throw err;
      }
    });
    try {
      await this.#custom.createNamespacedCustomObject({
        group: TENANT_GROUP,
        version: TENANT_VERSION,
        namespace: input.namespace,
        plural: TENANT_PLURAL,
        body,
      });
    } catch (err) {
      if (statusCode(err) === 409)
        throw new UserError(
          `TenantCluster ${input.namespace}/${input.name} exists already`,
          'change it with kubectl edit, or delete it first',
        );
      await this.#call(`creating TenantCluster ${input.namespace}/${input.name}`, () => Promise.reject(err));
    }
  }

  /** TenantClusters of one namespace, or of every namespace; sorted by namespace and name. */
  async list(namespace?: string): Promise<TenantSummary[]> {
    const list = (await this.#call('listing TenantClusters', () =>
      namespace === undefined
        ? this.#custom.listClusterCustomObject({
            group: TENANT_GROUP,
            version: TENANT_VERSION,
            plural: TENANT_PLURAL,
          })
        : this.#custom.listNamespacedCustomObject({
            group: TENANT_GROUP,
            version: TENANT_VERSION,
            namespace,
            plural: TENANT_PLURAL,
          }),
    )) as { items?: TenantObject[] };
    return (list.items ?? [])
      .map(summary)
      .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  }

  async get(namespace: string, name: string): Promise<TenantSummary> {
    try {
      return summary(
        (await this.#custom.getNamespacedCustomObject({
          group: TENANT_GROUP,
          version: TENANT_VERSION,
          namespace,
          plural: TENANT_PLURAL,
          name,
        })) as TenantObject,
      );
    } catch (err) {
      if (statusCode(err) === 404 && !/could not find the requested resource/i.test(apiMessage(err)))
        throw new UserError(
          `there is no TenantCluster ${namespace}/${name}`,
          `see them with: civostack tenant list <manifest>`,
        );
      return this.#call(`reading TenantCluster ${namespace}/${name}`, () => Promise.reject(err));
    }
  }

  /**
   * The tenant's admin kubeconfig, written 0600 to `dir`/<namespace>-<name>.kubeconfig (atomically:
   * a reader never sees half a file). Returns the path; the content is never printed or logged.
   */
  async saveKubeconfig(namespace: string, name: string, dir: string): Promise<string> {
    const tenant = await this.get(namespace, name);
    if (tenant.kubeconfigSecret === '')
      throw new UserError(
        `TenantCluster ${namespace}/${name} has no kubeconfig yet: ${readiness(tenant)}`,
        'the operator writes it once the API Service has its address; try again shortly',
      );
    const secret = await this.#call(`reading Secret ${namespace}/${tenant.kubeconfigSecret}`, () =>
      this.#core.readNamespacedSecret({ namespace, name: tenant.kubeconfigSecret }),
    );
    const encoded = secret.data?.['kubeconfig'];
    if (encoded === undefined)
      throw new UserError(`Secret ${namespace}/${tenant.kubeconfigSecret} has no key kubeconfig`);
    const path = join(dir, `${namespace}-${name}.kubeconfig`);
    writeFileAtomic(path, Buffer.from(encoded, 'base64'), 0o600);
    return path;
  }

  /** Deletes the TenantCluster; with `waitMs`, waits until the operator has removed all it made. */
  async delete(namespace: string, name: string, waitMs = 0, poll = 2000): Promise<void> {
    const what = `TenantCluster ${namespace}/${name}`;
    try {
      await this.#custom.deleteNamespacedCustomObject({
        group: TENANT_GROUP,
        version: TENANT_VERSION,
        namespace,
        plural: TENANT_PLURAL,
        name,
      });
    } catch (err) {
      if (statusCode(err) === 404 && !/could not find the requested resource/i.test(apiMessage(err)))
        throw new UserError(`there is no ${what}`, 'see them with: civostack tenant list <manifest>');
      await this.#call(`deleting ${what}`, () => Promise.reject(err));
    }
    const started = Date.now();
    while (waitMs > 0) {
      try {
        await this.get(namespace, name);
      } catch (err) {
        if (err instanceof UserError && err.message.startsWith('there is no ')) return;
        throw err;
      }
      if (Date.now() - started > waitMs)
        throw new UserError(
          `${what} is still there after ${Math.round(waitMs / 1000)} s: the operator has not finished removing it`,
          `look at: kubectl -n ${namespace} describe tenantcluster ${name}; kubectl -n civostack-system logs deploy/civostack-operator`,
        );
      await this.#wait(poll);
    }
  }
}
