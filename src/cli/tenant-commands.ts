// `civostack tenant create|list|kubeconfig|delete` as commander sees them. The commands' module
// (src/cli/tenant.ts, which loads @kubernetes/client-node) is imported when one runs, never at
// startup, like every other command in main.ts.
import { Option, type Command } from 'commander';
import { DEFAULT_TENANT_NAMESPACE } from '../kube/tenant-defaults.js';
import type { Io } from './output.js';
import type { TenantCreateFlags, TenantFlags } from './tenant.js';

const commands = () => import('./tenant.js');

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
      setExit(await (await commands()).tenantCreateCommand(io, manifest, name, opts)),
    );
  common(tenant.command('list').description('list TenantClusters with their endpoint and Ready condition'))
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('-A, --all-namespaces', 'every namespace')
    .action(async (manifest: string, opts: TenantFlags & { allNamespaces?: boolean }) =>
      setExit(
        await (
          await commands()
        ).tenantListCommand(io, manifest, {
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
      setExit(await (await commands()).tenantKubeconfigCommand(io, manifest, name, opts)),
    );
  common(
    tenant.command('delete').description('delete a TenantCluster and everything the operator made for it'),
  )
    .argument('<name>', 'the TenantCluster')
    .option('--no-wait', 'return once the deletion is requested')
    .action(async (manifest: string, name: string, opts: TenantFlags & { wait: boolean }) =>
      setExit(await (await commands()).tenantDeleteCommand(io, manifest, name, opts)),
    );
}
