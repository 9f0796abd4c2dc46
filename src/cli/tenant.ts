// `civostack tenant create|list|kubeconfig|delete`: TenantClusters through the region's admin
// kubeconfig. The logic is in src/kube/tenants.ts; this reads the manifest and prints.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, UserError } from '../errors.js';
import { kubeconfigPath } from '../kube/kubeconfig.js';
import { DEFAULT_TENANT_NAMESPACE, readiness, TenantApi } from '../kube/tenants.js';
import { stateDirFor } from '../state/index.js';
import { loadOrFail } from './load.js';
import { printJson, type Io, type OutputFormat } from './output.js';
import { table } from './table.js';

export interface TenantFlags {
  readonly stateDir?: string;
  readonly namespace?: string;
  readonly output?: OutputFormat;
}

export interface TenantCreateFlags extends TenantFlags {
  readonly version?: string;
  readonly replicas: string;
  readonly workers: string;
  readonly podCidr: string;
  readonly serviceCidr: string;
  readonly owner: string;
}

/** The region's API as its admin kubeconfig reaches it, and the state folder tenant kubeconfigs go in. */
function regionApi(io: Io, manifest: string, flags: TenantFlags) {
  const region = loadOrFail(io, manifest);
  const state = stateDirFor(manifest, region.name, flags.stateDir);
  const path = kubeconfigPath(state.path);
  if (!existsSync(path))
    throw new UserError(
      `${region.name} has no kubeconfig yet (${path})`,
      `run: civostack region up ${manifest}`,
    );
  return { api: new TenantApi(path), region, tenantsDir: join(state.path, 'tenants') };
}

const integer = (flag: string, text: string): number => {
  if (!/^-?\d+$/.test(text)) throw new UserError(`${flag} "${text}" is not a whole number`);
  return Number(text);
};

export async function tenantCreateCommand(
  io: Io,
  manifest: string,
  name: string,
  flags: TenantCreateFlags,
): Promise<number> {
  const { api, region } = regionApi(io, manifest, flags);
  const namespace = flags.namespace ?? DEFAULT_TENANT_NAMESPACE;
  await api.create({
    name,
    namespace,
    // The region's own version is one it built.
    version: flags.version ?? region.manifest.kubernetes.version,
    replicas: integer('--replicas', flags.replicas),
    workers: integer('--workers', flags.workers),
    podCidr: flags.podCidr,
    serviceCidr: flags.serviceCidr,
    owner: flags.owner,
  });
  io.out(`TenantCluster ${namespace}/${name} created`);
  io.err(
    `follow it: civostack tenant list ${manifest}; its kubeconfig: civostack tenant kubeconfig ${manifest} ${name}`,
  );
  return ExitCode.ok;
}

export async function tenantListCommand(io: Io, manifest: string, flags: TenantFlags): Promise<number> {
  const { api } = regionApi(io, manifest, flags);
  const tenants = await api.list(flags.namespace);
  if (flags.output === 'json') printJson(io, tenants);
  else
    io.out(
      table(
        ['NAMESPACE', 'NAME', 'VERSION', 'REPLICAS', 'OWNER', 'ENDPOINT', 'READY'],
        tenants.map((t) => [
          t.namespace,
          t.name,
          t.version,
          String(t.replicas),
          t.owner,
          t.endpoint,
          readiness(t),
        ]),
      ),
    );
  return ExitCode.ok;
}

export async function tenantKubeconfigCommand(
  io: Io,
  manifest: string,
  name: string,
  flags: TenantFlags,
): Promise<number> {
  const { api, tenantsDir } = regionApi(io, manifest, flags);
  io.out(await api.saveKubeconfig(flags.namespace ?? DEFAULT_TENANT_NAMESPACE, name, tenantsDir));
  return ExitCode.ok;
}

export async function tenantDeleteCommand(
  io: Io,
  manifest: string,
  name: string,
  flags: TenantFlags & { readonly wait: boolean },
): Promise<number> {
  const { api } = regionApi(io, manifest, flags);
  const namespace = flags.namespace ?? DEFAULT_TENANT_NAMESPACE;
  await api.delete(namespace, name, flags.wait ? 5 * 60_000 : 0);
  io.out(
    `TenantCluster ${namespace}/${name} ${flags.wait ? 'deleted, with all it made' : 'deletion requested'}`,
  );
  return ExitCode.ok;
}
