// The command line: parses flags, calls one function per command, maps failures to exit codes.
import { Command, CommanderError, Option } from 'commander';
import { ExitCode, UserError } from '../errors.js';
import { processIo, type Io, type OutputFormat } from './output.js';
import { InvalidManifest } from './load.js';
// Each command's module is imported when that command runs, never at startup: `region validate` and
// `region plan` must not load ssh2, @kubernetes/client-node or listr2 (a third of a 10,000-node plan's
// time went to loading modules it never calls).
import type { LiveDiffFlags } from './live-diff.js';
import type { UpFlags } from './up.js';
import type { FabricFlags } from './fabric.js';
import type { BmcFlags, BmcVerb } from './bmc.js';
import { registerTenantCommands } from './tenant-commands.js';

const outputOption = (): Option =>
  new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text');

interface ServeOpts {
  stateDir?: string;
  listen?: string;
  port?: string;
  dhcp: 'authoritative' | 'proxy' | 'off';
  dns: boolean;
  cacheDir?: string;
}

export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('civostack')
    .description('Take a bare-metal region from racked servers to a running Kubernetes cluster.')
    .option('--debug', 'print stack traces of internal errors')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride();

  const region = program.command('region').description('validate, plan, render and diff a region manifest');
  region
    .command('validate')
    .description('check a manifest: schema and every semantic rule, all errors at once')
    .argument('<manifest>', 'region manifest (YAML)')
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExample:\n  $ civostack region validate inventories/nyc1.yaml\n\nExit codes: 0 valid, 1 errors found.',
    )
    .action(async (manifest: string, opts: { output: OutputFormat }) =>
      setExit((await import('./validate.js')).validateCommand(io, manifest, opts.output)),
    );
  region
    .command('plan')
    .description('resolve every address, ASN, port and cable, and record the allocations')
    .argument('<manifest>', 'region manifest (YAML)')
    .addOption(outputOption())
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .option('--prune', 'release addresses of devices removed from the manifest', false)
    .option('--no-save', 'do not record allocations (a preview)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ civostack region plan inventories/lab.yaml\n  $ civostack region plan inventories/nyc1.yaml --output json | jq .nodes[0]\n\nAllocations are recorded in the state folder: adding a node never renumbers another.',
    )
    .action(
      async (
        manifest: string,
        opts: { output: OutputFormat; stateDir?: string; prune: boolean; save: boolean },
      ) => setExit((await import('./plan.js')).planCommand(io, manifest, opts)),
    );
  region
    .command('render')
    .description("render every device's files (dnsmasq, iPXE, cloud-init, SONiC, FRR, K3s) into a folder")
    .argument('<manifest>', 'region manifest (YAML)')
    .requiredOption('--out <dir>', 'folder to write; replaced as a whole on every render')
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExample:\n  $ civostack region render inventories/nyc1.yaml --out /tmp/nyc1-configs\n\nFiles holding secrets are written with mode 0600.',
    )
    .action(async (manifest: string, opts: { out: string; stateDir?: string; output: OutputFormat }) =>
      setExit((await import('./render.js')).renderCommand(io, manifest, opts)),
    );
  region
    .command('diff')
    .description('show what would change on every device, before anything is touched')
    .argument('<manifest>', 'region manifest (YAML)')
    .option(
      '--against <dir>',
      'compare with this folder (e.g. configs pulled from devices) instead of the last applied render',
    )
    .option(
      '--live',
      "compare with what each switch runs now (FRR's running config; SONiC's config_db.json), over SSH with pinned host keys",
      false,
    )
    .option('--concurrency <n>', 'with --live: switches read at once', '30')
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExamples:\n  $ civostack region diff inventories/nyc1.yaml\n  $ civostack region diff inventories/nyc1.yaml --against /tmp/nyc1-configs --output json\n  $ civostack region diff inventories/lab.yaml --live\n\n' +
        "--live logs in to each switch (ssh.user, default admin, with civostack's own key) at its management\n" +
        'address and accepts only the host key pinned in ssh.hostKeyFile or <state>/host-keys/<switch>.pub.\n' +
        'Exit codes: 0 no changes, 2 changes, 1 error (with --live: also a switch that could not be read). Secrets are always redacted.',
    )
    .action(
      async (
        manifest: string,
        opts: { against?: string; live: boolean; stateDir?: string; output: OutputFormat } & LiveDiffFlags,
      ) => {
        if (opts.live && opts.against !== undefined)
          throw new UserError('--live and --against cannot be used together', undefined, ExitCode.usage);
        setExit(
          opts.live
            ? await (await import('./live-diff.js')).liveDiffCommand(io, manifest, opts)
            : (await import('./render.js')).diffCommand(io, manifest, opts),
        );
      },
    );
  region
    .command('status')
    .description(
      'show where every node is: pending, dhcp, ipxe, installing, installed, booted-from-disk, ssh-ready, failed',
    )
    .argument('<manifest>', 'region manifest (YAML)')
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .addOption(outputOption())
    .addHelpText('after', '\nExample:\n  $ civostack region status inventories/lab.yaml --output json')
    .action(async (manifest: string, opts: { stateDir?: string; output: OutputFormat }) =>
      setExit((await import('./pxe.js')).statusCommand(io, manifest, opts)),
    );

  region
    .command('kubeconfig')
    .description("print the path of the region's admin kubeconfig (0600, server at the API VIP)")
    .argument('<manifest>', 'region manifest (YAML)')
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .addHelpText(
      'after',
      '\nExample:\n  $ kubectl --kubeconfig "$(civostack region kubeconfig inventories/lab.yaml)" get nodes\n\nExit codes: 0 printed, 1 the cluster has not been initialised yet.',
    )
    .action(async (manifest: string, opts: { stateDir?: string }) =>
      setExit((await import('./kubeconfig.js')).kubeconfigCommand(io, manifest, opts)),
    );

  region
    .command('up')
    .description(
      'take the region from powered-off machines to a running Kubernetes cluster with the CivoStack operator Ready',
    )
    .argument('<manifest>', 'region manifest (YAML)')
    .option('--lab', 'rehearse on this machine: a QEMU machine per node in network namespaces', false)
    .option(
      '--dry-run',
      'print what every phase would do, per host and device, with the config diff; write nothing',
      false,
    )
    .option('--only <phase>', 'run this phase only')
    .option('--from <phase>', 'start at this phase')
    .option('--until <phase>', 'stop after this phase (e.g. ssh-ready: boot every node, no Kubernetes)')
    .option('-y, --yes', 'do not ask before acting (needed without a terminal)', false)
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .option('--cache-dir <dir>', 'where the installer and the lab OS image are built')
    .addOption(
      new Option('--accel <accel>', 'lab machines: auto probes KVM with the installer kernel, else TCG')
        .choices(['auto', 'kvm', 'tcg'])
        .default('auto'),
    )
    .option('--timeout <minutes>', 'how long each node gets to install, and then to answer SSH', '30')
    .option('--concurrency <n>', 'hosts worked on at once over SSH (staging, joins)', '30')
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
Examples:
  $ civostack region up inventories/nyc1.yaml --dry-run
  $ sudo civostack region up inventories/nyc1.yaml
  $ sudo civostack region up inventories/lab.yaml --lab --yes --output json
  $ sudo civostack region up inventories/nyc1.yaml --until ssh-ready

Phases: prepare, boot-service, power, wait-installed, boot-disk, ssh-ready, fabric, kubernetes-stage,
kubernetes-init, kubernetes-join-control-plane, kubernetes-join-workers, kubernetes-ready, operator,
record-applied, verify (--lab adds lab-artifacts, lab-network and lab-bmcs after prepare, and
lab-api-route and lab-fabric after ssh-ready). fabric pushes each switch's changed render
(frr-reload.py; SONiC config load/reload); with --lab, lab-fabric first starts the fabric lab (FRR
and sshd per switch, as \`lab fabric --keep\`) when it is not up, and checks it. The kubeconfig: civostack region kubeconfig <manifest>. Just the switches:
  $ sudo civostack region up inventories/lab.yaml --lab --only fabric --yes

Exit codes: 0 every node Ready and the Region Ready (or dry run done), 1 failed (each node named with why),
64 usage (e.g. no terminal and no --yes), 75 another run holds the region's lock, 130 cancelled.`,
    )
    .action(async (manifest: string, opts: UpFlags) =>
      setExit(await (await import('./up.js')).regionUpCommand(io, manifest, opts)),
    );

  const lab = program
    .command('lab')
    .description('the QEMU lab: a virtual rack in network namespaces on this machine');
  lab
    .command('up')
    .description(
      'create the lab network, start the boot server, boot every node to an SSH login (idempotent)',
    )
    .argument('<manifest>', 'region manifest (YAML)')
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .option('--cache-dir <dir>', 'where the installer and the lab OS image are built')
    .addOption(
      new Option('--accel <accel>', 'lab machines: auto probes KVM with the installer kernel, else TCG')
        .choices(['auto', 'kvm', 'tcg'])
        .default('auto'),
    )
    .option('--timeout <minutes>', 'give up after this long', '30')
    .option('--concurrency <n>', 'hosts worked on at once over SSH (staging, joins)', '30')
    .option('--until <phase>', 'stop after this phase (e.g. ssh-ready: boot every node, no Kubernetes)')
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExamples:\n  $ sudo civostack lab up inventories/lab.yaml\n  $ sudo civostack lab up inventories/lab.yaml --until ssh-ready\n\nThe phases of `region up --lab`, without asking (it acts on this host only). Returns when the\ncluster and the operator Region are Ready (with --until, when that phase is done), or says which node stopped where, with its console.',
    )
    .action(async (manifest: string, opts: Omit<UpFlags, 'lab' | 'yes' | 'dryRun'>) =>
      setExit(await (await import('./up.js')).labUpCommand(io, manifest, opts)),
    );
  lab
    .command('status')
    .description('show the lab network, the boot server, each machine and node state')
    .argument('<manifest>', 'region manifest (YAML)')
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .addOption(outputOption())
    .action(async (manifest: string, opts: { stateDir?: string; output: OutputFormat }) =>
      setExit(await (await import('./lab.js')).labStatusCommand(io, manifest, opts)),
    );
  lab
    .command('down')
    .description('remove every namespace, process, tap and file the lab made')
    .argument('<manifest>', 'region manifest (YAML)')
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .action(async (manifest: string, opts: { stateDir?: string }) =>
      setExit(await (await import('./lab.js')).labDownCommand(io, manifest, opts)),
    );

  const fabric = lab
    .command('fabric')
    .description(
      "the region's ToRs and border routers in FRR, cabled as planned, with simulated transit: checks and drill",
    );
  fabric
    .command('up', { isDefault: true })
    .description(
      'build the fabric lab (a namespace per switch, rendered frr.conf unchanged, transit simulators), check it, remove it',
    )
    .argument('<manifest>', 'region manifest (YAML)')
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .option('--drill', 'also take down every single cable, then every single switch, and re-check', false)
    .option('--keep', 'leave the fabric lab running afterwards (remove it with `lab fabric down`)', false)
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExamples:\n  $ sudo civostack lab fabric inventories/lab.yaml\n  $ sudo civostack lab fabric inventories/lab.yaml --drill --output json\n\nExit codes: 0 every check (and the drill) passes, 1 a check fails or a single failure cuts off a rack.',
    )
    .action(async (manifest: string, opts: FabricFlags) =>
      setExit(await (await import('./fabric.js')).labFabricCommand(io, manifest, opts)),
    );
  fabric
    .command('down')
    .description(
      "remove every namespace and FRR process of the region's fabric lab (also after a killed run)",
    )
    .argument('<manifest>', 'region manifest (YAML)')
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .addHelpText('after', '\nExample:\n  $ sudo civostack lab fabric down inventories/lab.yaml')
    .action(async (manifest: string, opts: { stateDir?: string }) =>
      setExit(await (await import('./fabric.js')).labFabricDownCommand(io, manifest, opts)),
    );

  lab
    .command('vm')
    .description("the lab's BMC hook: act on a node's QEMU machine as its BMC would (audit-logged)")
    .argument('<node>', 'lab node name')
    .argument('<action>', 'start | stop | reset | status | boot-next | boot-status')
    .argument('[device]', 'boot-next only: pxe, disk or none')
    .option('--state-dir <dir>', "the lab's state folder")
    .option('--via <caller>', 'who calls: ipmi, redfish or cli (recorded in the audit log)', 'cli')
    .addHelpText(
      'after',
      '\nExamples:\n  $ civostack lab vm r01-n02 status --state-dir inventories/.civostack/lab1\n  $ civostack lab vm r01-n02 boot-next pxe --state-dir inventories/.civostack/lab1\n\n' +
        '"on" is a running QEMU process, "off" none. boot-next records a one-time boot device that the next\n' +
        'start consumes; reset is a QMP system_reset. Every call is appended to <state>/lab/bmc-audit.jsonl.',
    )
    .action(
      async (
        node: string,
        action: string,
        device: string | undefined,
        opts: { stateDir?: string; via: string },
      ) => setExit(await (await import('./lab.js')).labVmCommand(io, node, action, device, opts)),
    );
  lab
    .command('redfish-relay', { hidden: true })
    .description("sushy-tools' notification URL: turns its power and boot changes into `lab vm` calls")
    .option('--state-dir <dir>', "the lab's state folder")
    .option('--listen <host:port>', 'where to listen', '127.0.0.1:8999')
    .action(async (opts: { stateDir?: string; listen: string }) =>
      setExit(await (await import('./lab.js')).labRedfishRelayCommand(io, opts)),
    );

  const bmc = program
    .command('bmc')
    .description("power and one-time boot device through each node's BMC (Redfish or IPMI)");
  const bmcVerbs: [BmcVerb, string, string][] = [
    ['status', 'show power state and one-time boot device; unreachable reads "unknown", never "off"', ''],
    ['on', 'power on', ''],
    ['off', 'power off (hard)', ''],
    ['cycle', 'power-cycle a node that is on, power on one that is off', ''],
    ['boot-next', 'boot pxe or disk on the next boot only', '<device> '],
  ];
  for (const [verb, description, extra] of bmcVerbs) {
    bmc
      .command(verb)
      .description(description)
      .argument('<manifest>', 'region manifest (YAML)')
      .argument(
        verb === 'boot-next' ? '<device-and-nodes...>' : '[nodes...]',
        verb === 'boot-next'
          ? 'pxe or disk, then node names (default: every node)'
          : 'node names (default: every node)',
      )
      .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
      .option('--concurrency <n>', 'BMCs talked to at once', '8')
      .addOption(outputOption())
      .addHelpText(
        'after',
        `\nExamples:\n  $ civostack bmc ${verb} inventories/lab.yaml ${extra ? 'pxe ' : ''}r01-n01 r01-n02\n  $ civostack bmc ${verb} inventories/nyc1.yaml ${extra ? 'disk ' : ''}--concurrency 16 --output json\n\n` +
          "Credentials come from each node's bmc.credentialsFile (YAML username/password, mode 0600).\n" +
          'Exit codes: 0 every BMC answered, 1 any failed or reads unknown (each is named), 64 bad usage.',
      )
      .action(async (manifest: string, nodes: string[], opts: BmcFlags) =>
        setExit(await (await import('./bmc.js')).bmcCommand(io, verb, manifest, nodes, opts)),
      );
  }

  const pxe = program.command('pxe').description('network boot: the boot server and dnsmasq');
  pxe
    .command('serve')
    .description(
      'serve DHCP/TFTP (dnsmasq) and HTTP boot (nginx in front: iPXE scripts, installer, OS image; seeds, ZTP) until stopped',
    )
    .argument('<manifest>', 'region manifest (YAML)')
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .option('--listen <address>', "address to serve HTTP on (default: the manifest's bootstrap address)")
    .option('--port <port>', 'HTTP port (default: bootstrap.httpPort)')
    .addOption(
      new Option(
        '--dhcp <mode>',
        'authoritative: hand out reserved addresses; proxy: boot options only, beside another DHCP server; off: HTTP only',
      )
        .choices(['authoritative', 'proxy', 'off'])
        .default('authoritative'),
    )
    .option('--no-dns', "turn off dnsmasq's DNS for the region domain")
    .option('--cache-dir <dir>', 'where the lab profile builds its installer and OS image', undefined)
    .addHelpText(
      'after',
      '\nExample:\n  $ sudo civostack pxe serve inventories/nyc1.yaml\n  $ sudo civostack pxe serve inventories/nyc1.yaml --dhcp proxy\n\nStops cleanly on SIGINT/SIGTERM: dnsmasq and nginx stopped, port freed.',
    )
    .action(async (manifest: string, opts: ServeOpts) =>
      setExit(await (await import('./pxe.js')).pxeServeCommand(io, manifest, opts)),
    );
  pxe
    .command('unknown')
    .description('list MACs that asked to boot but are not in the manifest')
    .argument('<manifest>', 'region manifest (YAML)')
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .addOption(outputOption())
    .action(async (manifest: string, opts: { stateDir?: string; output: OutputFormat }) =>
      setExit((await import('./pxe.js')).pxeUnknownCommand(io, manifest, opts)),
    );

  const kube = program
    .command('kube')
    .description('Kubernetes for the kubeadm distribution: binaries and images');
  kube
    .command('artifacts')
    .description(
      'build upstream Kubernetes, etcd and pause from their Go modules, or find them cached; print the folder',
    )
    .option('--cache-dir <dir>', 'where they are built and cached', '/var/cache/civostack')
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
Examples:
  $ civostack kube artifacts
  $ civostack kube artifacts --cache-dir /srv/civostack --output json | jq '.files[] | {name, ref}'

The folder holds kubeadm, kubelet, kubectl and etcdctl in bin/, the control plane's images (kube-apiserver,
kube-controller-manager, kube-scheduler, etcd, pause) as archives for \`ctr -n k8s.io images import\` in
images/, and artifacts.json with every file's sha256. A cold build takes several minutes and needs Go, gcc
and the Go module proxy; copy the folder to build nothing on an airgapped host.`,
    )
    .action(async (opts: { cacheDir?: string; output: OutputFormat }) =>
      setExit(await (await import('./kube.js')).kubeArtifactsCommand(io, opts)),
    );

  registerTenantCommands(program, io, setExit);

  program
    .command('schema')
    .description('print the JSON Schema of the region manifest (for editors and CI)')
    .option('--out <file>', 'write it to a file instead')
    .addHelpText(
      'after',
      '\nExample:\n  $ civostack schema --out schema/manifest.schema.json\n  # then, first line of a manifest: # yaml-language-server: $schema=../schema/manifest.schema.json',
    )
    .action(async (opts: { out?: string }) =>
      setExit((await import('./schema.js')).schemaCommand(io, opts.out)),
    );
  return program;
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = buildProgram(io, (code) => (exitCode = code));
  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      )
        return ExitCode.ok;
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (err instanceof InvalidManifest) return err.exitCode;
    if (err instanceof UserError) {
      io.err(`error: ${err.message}`);
      if (err.hint) io.err(`  hint: ${err.hint}`);
      return err.exitCode;
    }
    io.err(`internal error: ${(err as Error).message}`);
    if (argv.includes('--debug')) io.err((err as Error).stack ?? '');
    else io.err('  run again with --debug for the stack trace, and report it');
    return ExitCode.internal;
  }
}
