// `civostack lab fabric <manifest>` and `lab fabric down`: the rendered fabric running in FRR, checked and drilled.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ExitCode } from '../errors.js';
import { hostKeysPath } from '../live/index.js';
import type { Prepared } from '../pipeline.js';
import { readSecrets, SSH_KEY } from '../state/index.js';
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
  const secrets = readSecrets(r.state, r.plan, dirname(resolve(manifest))).values;
  const configs = new Map(
    r.plan.switches
      .filter((s) => s.role !== 'mgmt')
      .map((s) => [s.name, r.tree.get(`switches/${s.name}/frr.conf`)!.content] as const),
  );
  // Progress goes to stderr with --output json, so stdout stays one JSON document.
  const say = (text: string) => (flags.output === 'json' ? io.err : io.out)(`${stamp()} ${text}`);
  const started = Date.now();
  for (const s of r.plan.switches.filter((x) => x.role !== 'mgmt' && x.ssh.user !== 'root'))
    say(
      `note: ${s.name} logs in as ${s.ssh.user} (ssh.user), which the lab's sshd does not have: set ssh.user: root for region diff --live to reach it`,
    );
  const lab = await fabricUp({
    plan: r.plan,
    configs,
    secret: (name) => {
      const v = secrets.get(name);
      if (v === undefined) throw new Error(`internal: secret ${name} was not loaded`);
      return v;
    },
    onEvent: (e) => say(e.text),
    ssh: labSsh(r, secrets.get(`${SSH_KEY}.pub`)!),
  });
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

/**
 * The lab switches' sshd: civostack's key authorised, host keys kept in the state folder, the
 * public ones recorded where `region diff --live` pins them (the manifest's ssh.hostKeyFile when
 * it names one that does not exist yet, else <state>/host-keys/<switch>.pub).
 */
function labSsh(r: Prepared, authorizedKey: string) {
  const pinned = new Map(
    r.plan.switches.map((s) => [
      s.name,
      s.ssh.hostKeyFile ? resolve(r.manifestDir, s.ssh.hostKeyFile) : hostKeysPath(r.state, s.name),
    ]),
  );
  return {
    authorizedKey,
    keyDir: join(r.state.path, 'lab', 'fabric'),
    pinnedPath: (device: string) => pinned.get(device)!,
    // A key file the manifest names and that exists is the operator's: never overwritten.
    mayPin: (device: string) =>
      !r.plan.switches.find((s) => s.name === device)?.ssh.hostKeyFile || !existsSync(pinned.get(device)!),
  };
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
