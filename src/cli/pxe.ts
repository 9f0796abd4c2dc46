// `civostack pxe serve|unknown` and `region status`: the boot service and what it has seen.
import { dirname, resolve } from 'node:path';
import {
  bootRuntime,
  customArtifacts,
  describeState,
  readNodeStates,
  startBootService,
  type BootArtifacts,
  type DhcpMode,
} from '../boot/index.js';
import { ExitCode, UserError } from '../errors.js';
import { loadOrFail } from './load.js';
import { printJson, type Io, type OutputFormat } from './output.js';
import { nodeProgress } from './progress.js';
import { renderFromManifest } from './render.js';
import { table } from './table.js';
import { stateDirFor } from '../state/index.js';

export interface ServeFlags {
  readonly stateDir?: string;
  readonly listen?: string;
  readonly port?: string;
  readonly dhcp: DhcpMode;
  readonly dns: boolean;
  readonly cacheDir?: string;
}

export async function pxeServeCommand(io: Io, manifest: string, flags: ServeFlags): Promise<number> {
  const probe = loadOrFail({ ...io, err: () => undefined }, manifest);
  const state = stateDirFor(manifest, probe.name, flags.stateDir);
  const runtime = bootRuntime(state);
  const rendered = renderFromManifest(io, manifest, {
    ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
    boot: {
      tftpRoot: runtime.tftpRoot,
      leaseFile: runtime.leaseFile,
      dnsPort: flags.dns ? 53 : 0,
      proxy: flags.dhcp === 'proxy',
    },
  });
  const { plan } = rendered;
  const progress = nodeProgress(
    io,
    plan.nodes.map((n) => n.name),
  );
  let artifacts: BootArtifacts;
  try {
    artifacts =
      plan.os.profile === 'lab-debian'
        ? // Loaded only for the lab profile: it pulls in the image builders.
          await (
            await import('../lab/artifacts.js')
          ).labArtifacts(plan, flags.cacheDir, (line) => progress.info(line))
        : customArtifacts(plan, dirname(resolve(manifest)));
  } catch (err) {
    progress.stop();
    throw err;
  }
  const port = flags.port !== undefined ? Number(flags.port) : plan.bootstrap.httpPort;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UserError(`--port ${flags.port ?? ''} is not a port number`, undefined, ExitCode.usage);
  const service = await startBootService({
    plan,
    tree: rendered.tree,
    state: rendered.state,
    artifacts,
    listen: { host: flags.listen ?? plan.bootstrap.address, port },
    dhcp: flags.dhcp,
    onEvent: (e) => {
      if (e.kind === 'node') progress.node(e.node, e.text);
      else if (e.kind === 'unknown-mac')
        progress.info(`unknown MAC ${e.mac} (${e.from}): not in the manifest; see civostack pxe unknown`);
      else if (e.kind === 'refused')
        progress.info(`refused ${e.method} ${e.path} from ${e.from}: ${e.status} ${e.reason}`);
      else if (e.kind === 'dnsmasq' && e.event.kind === 'tftp')
        progress.info(`tftp: sent ${e.event.file} to ${e.event.to}`);
    },
  });
  progress.info(
    `boot server on ${service.url}, DHCP ${flags.dhcp}${flags.dhcp === 'off' ? '' : ' (dnsmasq)'}; Ctrl-C stops it`,
  );

  // Runs until SIGINT/SIGTERM (or dnsmasq or nginx dying), then stops them and frees the port.
  const reason = await new Promise<string>((done) => {
    const onSignal = (sig: NodeJS.Signals) => done(sig);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    void service.dnsmasqExited?.then((code) => done(`dnsmasq exited with code ${code}`));
    void service.nginxExited.then((code) => done(`nginx exited with code ${code}`));
  });
  await service.close();
  progress.stop(`boot server stopped (${reason})`);
  return reason.startsWith('SIG') ? ExitCode.ok : ExitCode.error;
}

export function pxeUnknownCommand(
  io: Io,
  manifest: string,
  flags: { stateDir?: string; output: OutputFormat },
): number {
  const region = loadOrFail(io, manifest);
  const { unknown } = readNodeStates(stateDirFor(manifest, region.name, flags.stateDir));
  if (flags.output === 'json') printJson(io, unknown);
  else if (unknown.length === 0) io.out('No unknown MACs have asked to boot.');
  else {
    io.out(
      table(
        ['MAC', 'SEEN VIA', 'ADDRESS', 'FIRST SEEN', 'LAST SEEN', 'TIMES'],
        unknown.map((u) => [u.mac, u.via, u.address, u.firstSeen, u.lastSeen, u.count]),
      ),
    );
    io.out('\nAdd them to the manifest (racks[].nodes[].nics[].mac) to have them installed.');
  }
  return ExitCode.ok;
}

export function statusCommand(
  io: Io,
  manifest: string,
  flags: { stateDir?: string; output: OutputFormat },
): number {
  const region = loadOrFail(io, manifest);
  const { nodes } = readNodeStates(stateDirFor(manifest, region.name, flags.stateDir));
  const rows = region.nodes.map((n) => ({
    node: n.name,
    ...(nodes[n.name] ?? { state: 'pending' as const, updatedAt: '' }),
  }));
  if (flags.output === 'json') {
    printJson(
      io,
      rows.map(({ hostKeys, ...r }) => ({ ...r, hostKeys: hostKeys?.length ?? 0 })),
    );
  } else {
    io.out(
      table(
        ['NODE', 'STATE', 'ADDRESS', 'MAC', 'UPDATED'],
        rows.map((r) => [r.node, describeState(r), r.address, r.mac, r.updatedAt || undefined]),
      ),
    );
  }
  return ExitCode.ok;
}
