// `civostack pxe serve|unknown` and `region status`: the boot service and what it has seen.
import { dirname, resolve } from 'node:path';
import {
  bootProgress,
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
import { nodeLineRenderer, plainRenderer } from './progress.js';
import { renderFromManifest } from './render.js';
import { table } from './table.js';
import { stateDirFor } from '../state/index.js';
import { processAlive } from '../apply/lock.js';
import { readJournal, type JournalFile } from '../apply/journal.js';

/** The last run's phases, from its journal: a hint of what it did, the node states are the truth. */
export function journalHint(j: JournalFile | undefined): string | undefined {
  if (!j) return undefined;
  const how = j.outcome
    ? `${j.outcome} at ${j.endedAt ?? '?'}`
    : processAlive(j.pid)
      ? `running (pid ${j.pid})`
      : `interrupted (pid ${j.pid} is gone): run it again to resume`;
  const phases = j.phases.map(
    (p) => `  ${p.phase}: ${p.outcome}${p.message ? ` (${p.message.split('\n')[0]})` : ''}`,
  );
  return [`Last run (journal, a hint): ${j.command}, started ${j.startedAt}, ${how}`, ...phases].join('\n');
}

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
  const progress = io.color
    ? nodeLineRenderer(
        io,
        plan.nodes.map((n) => n.name),
      )
    : plainRenderer(io);
  const info = (message: string) => progress.emit({ kind: 'log', code: 'log', message });
  let artifacts: BootArtifacts;
  try {
    artifacts =
      plan.os.profile === 'lab-debian'
        ? // Loaded only for the lab profile: it pulls in the image builders.
          await (await import('../lab/artifacts.js')).labArtifacts(plan, flags.cacheDir, (line) => info(line))
        : customArtifacts(plan, dirname(resolve(manifest)));
  } catch (err) {
    await progress.stop();
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
      const event = bootProgress(e);
      if (event) progress.emit(event);
    },
  });
  info(
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
  info(`boot server stopped (${reason})`);
  await progress.stop();
  return reason.startsWith('dnsmasq') ? ExitCode.error : ExitCode.ok;
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
  const state = stateDirFor(manifest, region.name, flags.stateDir);
  const { nodes } = readNodeStates(state);
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
    const hint = journalHint(readJournal(state));
    if (hint) io.out(`\n${hint}`);
  }
  return ExitCode.ok;
}
