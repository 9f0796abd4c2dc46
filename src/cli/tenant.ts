// `civostack tenant create|list|kubeconfig|delete`: TenantClusters through the region's admin
// kubeconfig. The logic is in src/kube/tenants.ts; this reads the manifest and prints.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { ExitCode, UserError } from '../errors.js';
import { kubeconfigPath } from '../kube/support.js';
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

/** `civostack tenant …`, added to the program by main.ts. */
export function registerTenantCommands(program: Command, io: Io, setExit: (code: number) => void): void {
  const tenant = program
    .command('tenant')
    .description("tenant clusters: control planes the region's operator runs for customers");
  const common = (c: Command) =>
    c
      .argument('<manifest>', 'region manifest (YAML)')
      .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
      .option(
        '-n, --namespace <namespace>',
        `namespace of the TenantCluster (default: ${DEFAULT_TENANT_NAMESPACE})`,
      );
  common(tenant.command('create').description('create a TenantCluster; the operator makes its control plane'))
    .argument('<name>', 'its name: a DNS label of at most 40 characters')
    .requiredOption('--owner <owner>', 'the customer it belongs to')
    .requiredOption('--pod-cidr <cidr>', "the tenant's pod network (outside the region's networks)")
    .requiredOption('--service-cidr <cidr>', "the tenant's service network (outside the region's networks)")
    .option('--version <version>', "Kubernetes version, one the region built (default: the region's)")
    .option('--replicas <n>', 'etcd members and API servers: 1, 3, 5 or 7', '1')
    .option('--workers <n>', 'worker nodes (node pools provide them later)', '0')
    .addHelpText(
      'after',
      '\nExample:\n  $ civostack tenant create inventories/lab.yaml team-a --owner acme --pod-cidr 172.16.0.0/16 --service-cidr 172.17.0.0/16 --replicas 3',
    )
    .action(async (manifest: string, name: string, opts: TenantCreateFlags) =>
      setExit(await tenantCreateCommand(io, manifest, name, opts)),
    );
  common(tenant.command('list').description('list TenantClusters with their endpoint and Ready condition'))
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('-A, --all-namespaces', 'every namespace')
    .action(async (manifest: string, opts: TenantFlags & { allNamespaces?: boolean }) =>
      setExit(
        await tenantListCommand(io, manifest, {
          ...opts,
          ...(opts.allNamespaces ? {} : { namespace: opts.namespace ?? DEFAULT_TENANT_NAMESPACE }),
        }),
      ),
    );
  common(
    tenant
      .command('kubeconfig')
      .description("write the tenant's admin kubeconfig (0600) into the state folder and print its path"),
  )
    .argument('<name>', 'the TenantCluster')
    .addHelpText(
      'after',
      '\nExample:\n  $ kubectl --kubeconfig "$(civostack tenant kubeconfig inventories/lab.yaml team-a)" get ns',
    )
    .action(async (manifest: string, name: string, opts: TenantFlags) =>
      setExit(await tenantKubeconfigCommand(io, manifest, name, opts)),
    );
  common(
    tenant.command('delete').description('delete a TenantCluster and everything the operator made for it'),
  )
    .argument('<name>', 'the TenantCluster')
    .option('--no-wait', 'return once the deletion is requested')
    .action(async (manifest: string, name: string, opts: TenantFlags & { wait: boolean }) =>
      setExit(await tenantDeleteCommand(io, manifest, name, opts)),
    );
}
