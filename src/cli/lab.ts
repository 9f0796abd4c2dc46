// `civostack lab up|status|down` and `region up --lab`: rehearse the boot and OS phases in QEMU.
import { Listr } from 'listr2';
import { ExitCode, UserError } from '../errors.js';
import type { AccelChoice } from '../lab/accel.js';
import type { Plan } from '../plan/index.js';
import type { StateDir } from '../state/index.js';
import { planFromManifest } from './load.js';
import { printJson, type Io, type OutputFormat } from './output.js';
import { nodeProgress } from './progress.js';
import { table } from './table.js';
export { labVmCommand } from './lab-vm-command.js';

export interface LabFlags {
  readonly stateDir?: string;
  readonly cacheDir?: string;
  readonly accel: AccelChoice;
  readonly timeout: string;
  readonly output: OutputFormat;
}

function minutes(text: string): number {
  const m = Number(text);
  if (!Number.isFinite(m) || m <= 0)
    throw new UserError(`--timeout ${text} is not a number of minutes`, 'e.g. --timeout 45', ExitCode.usage);
  return m * 60_000;
}

export async function labUpCommand(io: Io, manifest: string, flags: LabFlags): Promise<number> {
  const timeoutMs = minutes(flags.timeout);
  const { labUp } = await import('../lab/index.js');
  // Render once here so secrets and allocations exist before the boot server reads them.
  const { renderFromManifest } = await import('./render.js');
  const { plan, state } = renderFromManifest(io, manifest, flags);
  const progress = nodeProgress(
    io,
    plan.nodes.map((n) => n.name),
  );
  try {
    const result = await labUp({
      manifest,
      plan,
      state,
      ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}),
      accel: flags.accel,
      timeoutMs,
      onEvent: (e) => (e.kind === 'node' ? progress.node(e.node, e.text) : progress.info(e.text)),
    });
    progress.stop(`lab ${plan.region.name}: every node is SSH-ready`);
    if (flags.output === 'json') printJson(io, result);
    else {
      const states = [...new Set(Object.values(result.timeline).flatMap((t) => Object.keys(t)))];
      io.out(
        table(
          ['NODE', ...states.map((s) => s.toUpperCase())],
          Object.entries(result.timeline).map(([n, t]) => [
            n,
            ...states.map((s) => (t[s] === undefined ? undefined : `${t[s]}s`)),
          ]),
        ),
      );
    }
    return ExitCode.ok;
  } catch (err) {
    progress.stop();
    throw err;
  }
}

export async function regionUpCommand(
  io: Io,
  manifest: string,
  flags: LabFlags & { lab: boolean },
): Promise<number> {
  if (!flags.lab) {
    throw new UserError(
      'region up drives real hardware through the boot server: run `civostack pxe serve` and power the nodes on',
      'to rehearse the whole flow on this machine, add --lab',
      ExitCode.usage,
    );
  }
  const timeoutMs = minutes(flags.timeout);
  const { labUp } = await import('../lab/index.js');
  const { renderFromManifest } = await import('./render.js');
  const ctx: { plan?: Plan; state?: StateDir } = {};
  const tasks = new Listr(
    [
      {
        title: 'Validate, plan and render',
        task: () => {
          const r = renderFromManifest(io, manifest, flags);
          ctx.plan = r.plan;
          ctx.state = r.state;
        },
      },
      {
        title: 'Boot and install every node in the lab (network boot → installer → disk → SSH)',
        task: async (_, task) => {
          const result = await labUp({
            manifest,
            plan: ctx.plan!,
            state: ctx.state!,
            ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}),
            accel: flags.accel,
            timeoutMs,
            onEvent: (e) => (task.output = e.kind === 'node' ? `${e.node}: ${e.text}` : e.text),
          });
          task.title = `Every node is SSH-ready (${result.accel})`;
        },
        rendererOptions: { persistentOutput: true },
      },
    ],
    { renderer: io.color ? 'default' : 'simple', fallbackRenderer: 'simple', exitOnError: true },
  );
  await tasks.run();
  return ExitCode.ok;
}

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
  const progress = nodeProgress(
    io,
    plan.nodes.map((n) => n.name),
    false,
  );
  await labDown(plan, state, (e) =>
    e.kind === 'node' ? progress.node(e.node, e.text) : progress.info(e.text),
  );
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
