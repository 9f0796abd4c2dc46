// The cluster's API as civostack uses it, through @kubernetes/client-node: server-side apply with
// field manager `civostack`, nodes and their Ready condition, the bootstrap token joins use, and the
// Region resource's conditions.
import { readFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import { setTimeout as delayFor } from 'node:timers/promises';
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

/** The object API's discovery (kind → resource path), without its typed (de)serialisation. */
class ObjectPaths extends k8s.KubernetesObjectApi {
  path(object: k8s.KubernetesObject, action: 'read' | 'patch'): Promise<string> {
    return this.specUriPath(object, action);
  }

  useNamespaceOf(config: k8s.KubeConfig): void {
    this.setDefaultNamespace(config);
  }
}

/** An API answer that is not 2xx, with its HTTP status in `code` (as client-node's ApiException). */
export class ApiStatusError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: HTTP ${code}: ${apiMessage({ body })}`);
  }
}

export class ClusterApi {
  readonly #config: k8s.KubeConfig;
  readonly #paths: ObjectPaths;
  readonly #core: k8s.CoreV1Api;
  readonly #wait: (ms: number) => Promise<void>;

  /** `signal`: the run's cancellation (SIGINT/SIGTERM) ends a wait between retries at once. */
  constructor(kubeconfigPath: string, signal?: AbortSignal) {
    this.#wait = (ms) => delayFor(ms, undefined, signal ? { signal } : {});
    this.#config = new k8s.KubeConfig();
    this.#config.loadFromString(readFileSync(kubeconfigPath, 'utf8'));
    this.#paths = this.#config.makeApiClient(ObjectPaths);
    this.#paths.useNamespaceOf(this.#config);
    this.#core = this.#config.makeApiClient(k8s.CoreV1Api);
  }

  /**
   * One request with the kubeconfig's credentials, the object as its JSON: client-node's typed
   * serialiser drops fields whose JSON name is not its property name (a CRD schema's
   * x-kubernetes-list-type), so objects go through as they were rendered.
   */
  async #json(
    method: 'GET' | 'PATCH',
    path: string,
    body?: string,
    contentType?: string,
  ): Promise<KubeObject> {
    const url = new URL(path, this.server.endsWith('/') ? this.server : `${this.server}/`);
    const options: RequestOptions = {
      method,
      headers: {
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': contentType ?? 'application/json' } : {}),
      },
    };
    await this.#config.applyToHTTPSOptions(options);
    return new Promise<KubeObject>((resolve, reject) => {
      const req = request(url, { ...options, timeout: 60_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300)
            return reject(new ApiStatusError(status, text, `${method} ${url.pathname}`));
          try {
            resolve(JSON.parse(text) as KubeObject);
          } catch {
            reject(new Error(`${method} ${url.pathname}: the answer is not JSON`));
          }
        });
      });
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error('network timeout'), { code: 'ETIMEDOUT' })),
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  get server(): string {
    return this.#config.getCurrentCluster()?.server ?? '(no server)';
  }

  /** Server-side apply, field manager civostack, conflicts forced: civostack owns what it renders. */
  async apply(object: KubeObject): Promise<KubeObject> {
    return retryTransient(
      async () => {
        const path = await this.#paths.path(object, 'patch');
        const query = `?fieldManager=${FIELD_MANAGER}&force=true`;
        return this.#json('PATCH', path + query, JSON.stringify(object), 'application/apply-patch+yaml');
      },
      undefined,
      this.#wait,
    );
  }

  async read(object: {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string };
  }): Promise<KubeObject | undefined> {
    try {
      return await retryTransient(
        async () => this.#json('GET', await this.#paths.path(object, 'read')),
        undefined,
        this.#wait,
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

/**
 * How long a 401 or 403 is waited out. An API server that has just (re)started serves requests
 * before its caches are filled: it answers 403 to every request until its RBAC informers sync
 * (seen in the lab: discovery of a CRD forbidden to the admin kubeconfig, right after the API server
 * restarted under software emulation) and 401 until its authenticators load. Past this, the
 * answer stands: it is reported, not retried.
 */
export const AUTH_SETTLE_MS = 30_000;

const authAnswer = (err: unknown): boolean => {
  const code = statusCode(err);
  return code === 401 || code === 403;
};

/**
 * Runs an API call, again after 1, 2, 4 … 10 s while it fails transiently, for up to `forMs`; a
 * 401 or 403 is retried the same way for up to AUTH_SETTLE_MS of that time.
 */
export async function retryTransient<T>(
  call: () => Promise<T>,
  forMs = 120_000,
  wait: (ms: number) => Promise<void> = (ms) => delayFor(ms),
): Promise<T> {
  let waited = 0;
  let waitedOnAuth = 0;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const delay = Math.min(1000 * 2 ** attempt, 10_000);
      const auth = authAnswer(err);
      if (!(isTransient(err) || auth) || waited + delay > forMs) throw err;
      if (auth && waitedOnAuth + delay > AUTH_SETTLE_MS) throw err;
      await wait(delay);
      waited += delay;
      if (auth) waitedOnAuth += delay;
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
