// The cluster's API as civostack uses it, through @kubernetes/client-node: server-side apply with
// field manager `civostack`, nodes and their Ready condition, the bootstrap token joins use, and the
// Region resource's conditions.
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { UserError } from '../errors.js';

export const FIELD_MANAGER = 'civostack';

export interface ClusterNode {
  readonly name: string;
  readonly ready: boolean;
  /** The Ready condition's reason and message, for a node that is not. */
  readonly why: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly kubeletVersion: string;
}

export interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

export type KubeObject = k8s.KubernetesObject & Record<string, unknown>;

export class ClusterApi {
  readonly #config: k8s.KubeConfig;
  readonly #objects: k8s.KubernetesObjectApi;
  readonly #core: k8s.CoreV1Api;

  constructor(kubeconfigPath: string) {
    this.#config = new k8s.KubeConfig();
    this.#config.loadFromString(readFileSync(kubeconfigPath, 'utf8'));
    this.#objects = k8s.KubernetesObjectApi.makeApiClient(this.#config);
    this.#core = this.#config.makeApiClient(k8s.CoreV1Api);
  }

  get server(): string {
    return this.#config.getCurrentCluster()?.server ?? '(no server)';
  }

  /** Server-side apply, field manager civostack, conflicts forced: civostack owns what it renders. */
  async apply(object: KubeObject): Promise<KubeObject> {
    return retryTransient(
      async () =>
        (await this.#objects.patch(
          object,
          undefined,
          undefined,
          FIELD_MANAGER,
          true,
          k8s.PatchStrategy.ServerSideApply,
        )) as KubeObject,
    );
  }

  async read(object: {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string };
  }): Promise<KubeObject | undefined> {
    try {
      return await retryTransient(
        async () =>
          (await this.#objects.read(object as Parameters<k8s.KubernetesObjectApi['read']>[0])) as KubeObject,
      );
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  async nodes(): Promise<ClusterNode[]> {
    const list = await this.#core.listNode();
    return list.items.map((n) => {
      const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
      return {
        name: n.metadata?.name ?? '',
        ready: ready?.status === 'True',
        why: ready
          ? `${ready.reason ?? ''}${ready.message ? `: ${ready.message}` : ''}`
          : 'no Ready condition yet',
        labels: n.metadata?.labels ?? {},
        kubeletVersion: n.status?.nodeInfo?.kubeletVersion ?? '',
      };
    });
  }

  /** The API answers (/readyz); false when it does not, with no throw. */
  async healthy(): Promise<boolean> {
    try {
      await this.#core.listNamespace({ limit: 1 } as never);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The bootstrap token joining nodes present: kubeadm's Secret format (kube-system/bootstrap-token-<id>),
   * its expiry moved out, so a node joining days after init still can. The secret goes in the
   * request body only.
   */
  async ensureBootstrapToken(token: string, validForMs: number, now = new Date()): Promise<void> {
    const [id, secret] = token.split('.');
    if (!id || !secret) throw new Error('internal: a kubeadm token is <id>.<secret>');
    await this.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `bootstrap-token-${id}`, namespace: 'kube-system' },
      type: 'bootstrap.kubernetes.io/token',
      stringData: {
        description: 'civostack: joins the region nodes',
        'token-id': id,
        'token-secret': secret,
        expiration: new Date(now.getTime() + validForMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        'usage-bootstrap-authentication': 'true',
        'usage-bootstrap-signing': 'true',
        'auth-extra-groups': 'system:bootstrappers:kubeadm:default-node-token',
      },
    });
  }

  /** Whether a CustomResourceDefinition is Established (its kinds can be created). */
  async crdEstablished(name: string): Promise<boolean> {
    const crd = await this.read({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name },
    });
    const conditions = ((crd?.['status'] as { conditions?: Condition[] } | undefined)?.conditions ??
      []) as Condition[];
    return conditions.some((c) => c.type === 'Established' && c.status === 'True');
  }
}

/**
 * Whether an API error is the kind a moment fixes: the connection refused, reset or timed out (an
 * API server restarting, the VIP moving), or 429/5xx. Not 4xx: those are answers.
 */
export function isTransient(err: unknown): boolean {
  const code = statusCode(err);
  if (code !== undefined) return code === 429 || code >= 500;
  const e = err as { code?: unknown; message?: unknown };
  const text = `${typeof e.code === 'string' ? e.code : ''} ${typeof e.message === 'string' ? e.message : ''}`;
  return /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|EPIPE|EAI_AGAIN|socket hang up|network timeout/i.test(
    text,
  );
}

/** Runs an API call, again after 1, 2, 4 … 10 s while it fails transiently, for up to `forMs`. */
export async function retryTransient<T>(
  call: () => Promise<T>,
  forMs = 120_000,
  wait: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<T> {
  let waited = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const delay = Math.min(1000 * 2 ** attempt, 10_000);
      if (!isTransient(err) || waited + delay > forMs) throw err;
      await wait(delay);
      waited += delay;
    }
  }
}

export function statusCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } };
  for (const c of [e.code, e.statusCode, e.response?.statusCode]) if (typeof c === 'number') return c;
  return undefined;
}

export function conditionsOf(object: KubeObject | undefined): Condition[] {
  return ((object?.['status'] as { conditions?: Condition[] } | undefined)?.conditions ?? []) as Condition[];
}

/** What an API error says, for a UserError: the status message rather than a stack. */
export function apiMessage(err: unknown): string {
  const e = err as { body?: unknown; message?: string };
  if (typeof e.body === 'string') {
    try {
      const parsed = JSON.parse(e.body) as { message?: string };
      if (parsed.message) return parsed.message;
    } catch {
      return e.body.slice(0, 300);
    }
  }
  return e.message ?? String(err);
}

export function clusterError(what: string, err: unknown): UserError {
  return new UserError(`${what}: ${apiMessage(err)}`);
}
