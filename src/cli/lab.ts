// `civostack lab status|down`: the QEMU lab's state, and removing it. (`lab up` is region up's
// lab phases: src/cli/up.ts.)
import { ExitCode } from '../errors.js';
import { planFromManifest } from './load.js';
import { printJson, type Io, type OutputFormat } from './output.js';
import { plainRenderer } from './progress.js';
import { table } from './table.js';

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
