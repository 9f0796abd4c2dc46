// `civostack lab fabric <manifest>` and `lab fabric down`: the rendered fabric running in FRR, checked and drilled.
import { ExitCode } from '../errors.js';
import { fabricUpInputs, unservedSshUsers } from '../lab/fabric/prepared.js';
import type { Io, OutputFormat } from './output.js';
import { printJson } from './output.js';
import { planFromManifest } from './load.js';
import { table } from './table.js';

export interface FabricFlags {
  readonly stateDir?: string;
  readonly output: OutputFormat;
  readonly drill: boolean;
  readonly keep: boolean;
}

const stamp = () => new Date().toISOString().slice(11, 19);

export async function labFabricCommand(io: Io, manifest: string, flags: FabricFlags): Promise<number> {
  const { fabricUp, fabricChecks, fabricDown, fabricDrill, maxPrefixDrill } =
    await import('../lab/fabric/index.js');
  const { renderFromManifest } = await import('./render.js');
  const r = renderFromManifest(io, manifest, flags);
  // Progress goes to stderr with --output json, so stdout stays one JSON document.
  const say = (text: string) => (flags.output === 'json' ? io.err : io.out)(`${stamp()} ${text}`);
  const started = Date.now();
  for (const note of unservedSshUsers(r)) say(`note: ${note}`);
  const lab = await fabricUp(fabricUpInputs(r, (e) => say(e.text)));
  try {
    const checks = [...(await fabricChecks(lab)), await maxPrefixDrill(lab, (t) => say(t))];
    const drill = flags.drill ? await fabricDrill(lab, { onEvent: (t) => say(t) }) : undefined;
    const ok = checks.every((c) => c.status !== 'fail') && (drill?.passed ?? true);
    const report = {
      region: r.plan.region.name,
      ok,
      sessionsUpMs: lab.sessionsUpMs,
      ssh: lab.ssh,
      limitations: lab.topology.limitations,
      checks,
      ...(drill ? { drill } : {}),
      wallMs: Date.now() - started,
    };
    if (flags.output === 'json') printJson(io, report);
    else {
      for (const l of report.limitations) io.out(`note: ${l}`);
      io.out(
        table(
          ['CHECK', 'RESULT', 'DETAIL'],
          checks.flatMap((c) =>
            c.details.length
              ? c.details.map((d, k) => [k === 0 ? c.id : '', k === 0 ? c.status : '', d])
              : [[c.id, c.status, '']],
          ),
        ),
      );
      if (drill) {
        io.out('');
        io.out(
          table(
            ['FAILURE', 'CONVERGED', 'RESTORED', 'RESULT'],
            drill.failures.map((f) => [
              f.failure,
              f.settled
                ? `${(f.convergenceMs / 1000).toFixed(1)}s`
                : `no (> ${(f.convergenceMs / 1000).toFixed(0)}s)`,
              `${(f.restoreMs / 1000).toFixed(1)}s`,
              f.cutOff.length
                ? `CUT OFF: ${f.cutOff.join('; ')}`
                : f.degraded.length
                  ? `survives (degraded: ${f.degraded.join('; ')})`
                  : 'survives',
            ]),
          ),
        );
        io.out(
          drill.passed
            ? 'drill: the fabric survives every single failure'
            : `drill: single points of failure: ${drill.failures
                .filter((f) => f.cutOff.length)
                .map((f) => f.failure)
                .join(', ')}`,
        );
      }
      io.out(
        `sessions up in ${(lab.sessionsUpMs / 1000).toFixed(1)} s; ${ok ? 'all checks pass' : 'some checks FAIL'}`,
      );
    }
    return ok ? ExitCode.ok : ExitCode.error;
  } finally {
    if (!flags.keep) await fabricDown(r.plan.region.name);
    else say(`fabric lab left running: \`civostack lab fabric down ${manifest}\` removes it`);
  }
}

export async function labFabricDownCommand(
  io: Io,
  manifest: string,
  flags: { stateDir?: string },
): Promise<number> {
  const { fabricDown } = await import('../lab/fabric/index.js');
  const { plan } = planFromManifest(io, manifest, flags);
  const n = await fabricDown(plan.region.name);
  io.out(`fabric lab ${plan.region.name} removed (${n} namespaces)`);
  return ExitCode.ok;
}
