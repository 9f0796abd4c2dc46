// The one CivoStack operator: its bundle (the reference operator's, rendered from
// templates/operator/, or the manifest's own folder of manifests) applied with server-side apply,
// field manager civostack; then the Region made from the manifest; then its conditions waited on,
// showing the operator's own messages.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import jsYaml from 'js-yaml';
import { UserError } from '../../errors.js';
import { parseTaint } from '../../manifest/node-labels.js';
import { clusterError, conditionsOf, type Condition, type KubeObject } from '../../kube/api.js';
import {
  regionObject,
  renderOperatorBundle,
  tenantSettings,
  type TenantSettings,
} from '../../kube/operator-bundle.js';
import { API_PORT } from '../../kube/kubeadm-render.js';
import { hasKubeconfig, kubeLog } from '../kubernetes.js';
import type { RegionContext } from '../context.js';
import { sleep, type Phase } from '../phase.js';

interface Facts {
  readonly configured: boolean;
  readonly objects: readonly KubeObject[];
  /** Objects whose applied fields differ from the cluster's (or that are missing). */
  readonly stale: readonly string[];
  readonly ready: boolean;
  readonly conditions: readonly Condition[];
}

const ID = 'operator';
const READY_TIMEOUT_MS = 15 * 60_000;

const describe = (o: KubeObject): string =>
  `${o.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? '?'}`;

/** The bundle's objects, CRDs first (a kind must exist before anything of it is applied). */
export function bundleObjects(ctx: RegionContext, tenants?: TenantSettings): KubeObject[] {
  const prepared = ctx.prepared();
  const op = prepared.region.manifest.operator;
  if (!op) return [];
  const plan = prepared.plan;
  const docs: string[] = [];
  if (op.bundle) {
    const dir = resolve(prepared.manifestDir, op.bundle);
    for (const f of readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort())
      docs.push(readFileSync(join(dir, f), 'utf8'));
  } else {
    for (const f of renderOperatorBundle({
      image: op.image,
      apiHost: plan.kubernetes.apiVip,
      apiPort: API_PORT,
      values: op.values,
      ...(tenants ? { tenants } : {}),
    }))
      docs.push(f.yaml);
  }
  const objects = docs
    .flatMap((d) => jsYaml.loadAll(d))
    .filter((o): o is KubeObject => typeof o === 'object' && o !== null && 'kind' in o);
  const region = regionObject({
    region: plan.region.name,
    // The operator puts each node's labels and taints on it, for kubeadm's nodes as for K3s'
    // (kubeadm's registration names only the control-plane taint).
    nodes: plan.nodes.map((n) => ({
      name: n.name,
      rack: n.rack,
      role: n.role,
      sku: n.sku,
      labels: n.labels,
      ...(n.taints.length > 0 ? { taints: n.taints.map(regionTaint) } : {}),
    })),
  }) as unknown as KubeObject;
  const rank = (o: KubeObject) =>
    o.kind === 'CustomResourceDefinition' ? 0 : o.kind === 'Namespace' ? 1 : 2;
  return [...objects.sort((a, b) => rank(a) - rank(b)), region];
}

/**
 * What the operator needs to run TenantClusters: the region's networks, and the version and etcd
 * image of the kubeadm artifacts, whose control-plane images the tenants' pods run. A K3s region
 * has no such images; its operator refuses TenantClusters and says why.
 */
async function tenantsOf(ctx: RegionContext): Promise<TenantSettings | undefined> {
  const { plan, region } = ctx.prepared();
  const op = region.manifest.operator;
  if (!op || op.bundle || plan.kubernetes.distribution === 'k3s') return undefined;
  return tenantSettings(plan.networks, await ctx.artifacts());
}

/** A manifest taint ("key[=value]:Effect", checked by validation) as the Region spells it. */
function regionTaint(text: string): { key: string; value?: string; effect: string } {
  const parsed = parseTaint(text);
  if (!parsed.ok) throw new UserError(`the taint ${JSON.stringify(text)} ${parsed.reason}`);
  const { key, value, effect } = parsed.taint;
  return { key, ...(value !== undefined && value !== '' ? { value } : {}), effect };
}

/** Whether every field we apply has the value we apply (what server-side apply would leave unchanged). */
function contains(actual: unknown, wanted: unknown): boolean {
  if (wanted === null || typeof wanted !== 'object')
    return actual === wanted || String(actual) === String(wanted);
  if (Array.isArray(wanted))
    return (
      Array.isArray(actual) &&
      actual.length === wanted.length &&
      wanted.every((w, i) => contains(actual[i], w))
    );
  if (actual === null || typeof actual !== 'object') return false;
  return Object.entries(wanted).every(([k, v]) => contains((actual as Record<string, unknown>)[k], v));
}

export const operatorPhase: Phase<RegionContext, Facts> = {
  id: ID,
  title: 'The CivoStack operator, and the Region it reports Ready',
  async observe(ctx) {
    // Before the cluster exists every object is to be applied, and the tenant settings (which need
    // the artifacts, built or loaded by the Kubernetes phases) change no object's name.
    if (!hasKubeconfig(ctx)) {
      const objects = bundleObjects(ctx);
      return objects.length === 0
        ? { configured: false, objects, stale: [], ready: false, conditions: [] }
        : { configured: true, objects, stale: objects.map(describe), ready: false, conditions: [] };
    }
    const objects = bundleObjects(ctx, await tenantsOf(ctx));
    if (objects.length === 0) return { configured: false, objects, stale: [], ready: false, conditions: [] };
    const api = ctx.cluster();
    const stale: string[] = [];
    let conditions: Condition[] = [];
    for (const o of objects) {
      const live = await api.read(o as never).catch(() => undefined);
      const { status: _status, ...wanted } = o;
      if (!live || !contains(live, wanted)) stale.push(describe(o));
      if (o.kind === 'Region') conditions = conditionsOf(live);
    }
    const ready = conditions.some((c) => c.type === 'Ready' && c.status === 'True');
    return { configured: true, objects, stale, ready, conditions };
  },
  shouldRun: (f) => f.configured && (f.stale.length > 0 || !f.ready),
  skipReason: (f) =>
    f.configured ? 'the operator runs and the Region is Ready' : 'the manifest names no operator',
  actions: (f) => [
    ...f.stale.map((s) => ({ target: 'cluster', text: `server-side apply ${s} (field manager civostack)` })),
    { target: 'cluster', text: 'wait until the Region is Ready' },
  ],
  async run(ctx, _actions, facts) {
    const log = kubeLog(ctx, ID);
    const api = ctx.cluster();
    for (const o of facts.objects) {
      if (o.kind === 'Region' || !facts.stale.includes(describe(o))) continue;
      await api.apply(o).catch((err) => {
        throw new UserError(`applying ${describe(o)} failed: ${(err as Error).message.split('\n')[0]}`);
      });
      log(`applied ${describe(o)}`);
      if (o.kind === 'CustomResourceDefinition') {
        while (!(await api.crdEstablished(o.metadata!.name!))) await sleep(1000, ctx.signal);
      }
    }
    const region = facts.objects.find((o) => o.kind === 'Region')!;
    await api.apply(region).catch((err: unknown) => {
      throw clusterError(`applying ${describe(region)} failed`, err);
    });
    log(`applied ${describe(region)}`);
    const started = ctx.now();
    const seen = new Map<string, string>();
    for (;;) {
      const live = await api.read(region as never).catch(() => undefined);
      const conditions = conditionsOf(live);
      for (const c of conditions) {
        const text = `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`;
        if (seen.get(c.type) !== text) {
          seen.set(c.type, text);
          ctx.emit({ kind: 'log', code: 'operator.condition', phase: ID, target: 'Region', message: text });
        }
      }
      if (conditions.some((c) => c.type === 'Ready' && c.status === 'True')) return;
      if (ctx.now() - started > READY_TIMEOUT_MS)
        throw new UserError(
          `the Region is not Ready after ${READY_TIMEOUT_MS / 60000} min: ${[...seen.values()].join('; ') || 'the operator reported nothing (is it running? kubectl -n civostack-system get pods)'}`,
        );
      await sleep(ctx.pollMs.kube, ctx.signal);
    }
  },
};
