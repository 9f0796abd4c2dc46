// `civostack lab status|down`: the QEMU lab's state, and removing it. (`lab up` is region up's
// lab phases: src/cli/up.ts.)
import { ExitCode, UserError } from '../errors.js';
import { planFromManifest } from './load.js';
import { printJson, type Io, type OutputFormat } from './output.js';
import { plainRenderer } from './progress.js';
import { table } from './table.js';
export { labVmCommand } from './lab-vm-command.js';

export async function labStatusCommand(
  io: Io,
  manifest: string,
  flags: { stateDir?: string; output: OutputFormat },
): Promise<number> {
  const { labStatus } = await import('../lab/index.js');
  const { plan, state } = planFromManifest(io, manifest, flags);
  const s = await labStatus(plan, state);
  if (flags.output === 'json') printJson(io, s);
  else {
    io.out(
      `namespace ${s.namespace}: ${s.network ? 'present' : 'absent'}; boot server: ${s.bootServer.running ? `running (pid ${s.bootServer.pid ?? '?'})` : 'stopped'}`,
    );
    io.out(
      table(
        ['NODE', 'VM', 'STATE'],
        s.nodes.map((n) => [n.node, n.vm, n.state]),
      ),
    );
  }
  return ExitCode.ok;
}

export async function labDownCommand(
  io: Io,
  manifest: string,
  flags: { stateDir?: string },
): Promise<number> {
  const { labDown } = await import('../lab/index.js');
  const { plan, state } = planFromManifest(io, manifest, flags);
  await labDown(plan, state, plainRenderer(io).emit);
  io.out(`lab ${plan.region.name} removed`);
  return ExitCode.ok;
}

/** `civostack lab redfish-relay`: sushy-tools' notification URL, run by the lab inside its namespace. */
export async function labRedfishRelayCommand(
  io: Io,
  flags: { stateDir?: string; listen: string },
): Promise<number> {
  if (!flags.stateDir) throw new UserError('lab redfish-relay needs --state-dir', undefined, ExitCode.usage);
  const [host, port] = flags.listen.split(':');
  const { startRedfishRelay } = await import('../lab/index.js');
  const { stateDirFor } = await import('../state/index.js');
  const server = await startRedfishRelay(
    stateDirFor('.', '', flags.stateDir),
    { host: host!, port: Number(port) },
    (l) => io.out(`${new Date().toISOString()} ${l}`),
  );
  io.out(`redfish relay listening on ${flags.listen}`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return ExitCode.ok;
}
