// `civostack region up` (a real rack, or `--lab`) and `lab up`: flags in, the phase engine run,
// its events rendered. Nothing acts without a confirmation: a question in a terminal, --yes elsewhere.
import { createInterface } from 'node:readline/promises';
import { dirname, resolve } from 'node:path';
import { bmcDrivers } from '../bmc/index.js';
import { ExitCode, UserError } from '../errors.js';
import type { AccelChoice } from '../lab/accel.js';
import type { CivoEvent } from '../events.js';
import { prepare } from '../pipeline.js';
import { parseConcurrency } from '../remote/index.js';
import { stateDirFor } from '../state/index.js';
import { loadOrFail } from './load.js';
import type { Io, OutputFormat } from './output.js';
import { jsonRenderer, plainRenderer, taskListRenderer, type Renderer } from './progress.js';
import { table } from './table.js';

export interface UpFlags {
  readonly lab: boolean;
  readonly dryRun: boolean;
  readonly only?: string;
  readonly from?: string;
  readonly until?: string;
  readonly yes: boolean;
  readonly stateDir?: string;
  readonly cacheDir?: string;
  readonly accel: AccelChoice;
  readonly timeout: string;
  readonly output: OutputFormat;
  readonly concurrency?: string;
}

/** Whether someone can answer a question: stdin and stderr are a terminal. */
export type Terminal = () => boolean;
const processTerminal: Terminal = () => Boolean(process.stdin.isTTY && process.stderr.isTTY);

function minutes(text: string): number {
  const m = Number(text);
  if (!Number.isFinite(m) || m <= 0)
    throw new UserError(`--timeout ${text} is not a number of minutes`, 'e.g. --timeout 45', ExitCode.usage);
  return m * 60_000;
}

/**
 * Power for a real rack. Until src/bmc's factory (Redfish/IPMI drivers from the plan's BMC fields)
 * lands, no node has a driver: region up names each node and MAC to power on by hand, and waits.
 */

export async function regionUpCommand(
  io: Io,
  manifest: string,
  flags: UpFlags,
  terminal: Terminal = processTerminal,
): Promise<number> {
  const nodeTimeoutMs = minutes(flags.timeout);
  const interactive = terminal();
  if (!flags.dryRun && !flags.yes && !interactive)
    throw new UserError(
      'region up acts on machines and nothing here can confirm it (no terminal)',
      'pass --yes to go ahead, or --dry-run to see every action first',
      ExitCode.usage,
    );
  const apply = await import('../apply/index.js');
  const region = loadOrFail(io, manifest);
  const state = stateDirFor(manifest, region.name, flags.stateDir);
  const prepared = prepare({ region, manifestDir: dirname(resolve(manifest)), state });
  for (const f of prepared.looseFiles) io.err(`warning: ${f} can be read by other users: chmod 600 it`);

  // Nodes whose manifest entry gives BMC access are powered through it (the lab's emulated BMCs
  // alike); the others by hand.
  const power = bmcDrivers(prepared.plan, { manifestDir: dirname(resolve(manifest)) });
  const cache = flags.cacheDir ? { cacheDir: flags.cacheDir } : {};
  const environment = flags.lab
    ? (await import('../lab/environment.js')).labEnvironment({
        manifest,
        prepared,
        power,
        accel: flags.accel,
        ...cache,
      })
    : apply.rackEnvironment({ power, ...cache });
  const phases = environment.phases;
  const selection = {
    ...(flags.only !== undefined ? { only: flags.only } : {}),
    ...(flags.from !== undefined ? { from: flags.from } : {}),
    ...(flags.until !== undefined ? { until: flags.until } : {}),
  };
  const selected = apply.selectPhases(phases, selection);

  const timeline = new Map<string, Map<string, number>>();
  const started = Date.now();
  const renderer: Renderer =
    flags.output === 'json'
      ? jsonRenderer(io)
      : interactive && !flags.dryRun && io.color
        ? taskListRenderer(io, selected)
        : plainRenderer(io);
  const emit = (e: CivoEvent) => {
    if (e.kind === 'node-state') {
      const t = timeline.get(e.node) ?? new Map<string, number>();
      if (!t.has(e.state)) t.set(e.state, Math.round((Date.now() - started) / 1000));
      timeline.set(e.node, t);
    }
    renderer.emit(e);
  };

  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) process.exit(130);
    emit({
      kind: 'warning',
      code: 'run.cancelling',
      message: `${sig}: stopping after the actions under way (again to stop at once)`,
    });
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await apply.regionUp({
      manifest,
      prepared,
      environment: { ...environment, phases: selected },
      emit,
      signal: controller.signal,
      nodeTimeoutMs,
      ...(flags.concurrency !== undefined ? { concurrency: parseConcurrency(flags.concurrency) } : {}),
      ...(flags.dryRun ? { dryRun: true } : {}),
      ...(!flags.yes && !flags.dryRun ? { confirm: (work) => confirmWork(io, work) } : {}),
    });
    await renderer.stop();
    if (result.outcome === 'dry-run') {
      if (flags.output !== 'json') io.out('dry run: nothing was changed, nothing was written');
      return ExitCode.ok;
    }
    if (result.outcome === 'declined') {
      io.err('nothing was done');
      return ExitCode.error;
    }
    if (result.outcome !== 'done') throw result.error;
    const notRun = phases.slice(phases.indexOf(selected[selected.length - 1]!) + 1).map((p) => p.id);
    if (flags.until !== undefined && notRun.length > 0 && flags.output !== 'json')
      io.out(`stopped after ${flags.until} (--until); not run: ${notRun.join(', ')}`);
    if (flags.output === 'json')
      // The last JSON line: each node's seconds from the start of the run to each state it reached.
      io.out(
        JSON.stringify({
          kind: 'summary',
          code: 'region.summary',
          ...(flags.until !== undefined ? { until: flags.until, notRun } : {}),
          timeline: Object.fromEntries([...timeline].map(([n, t]) => [n, Object.fromEntries(t)])),
        }),
      );
    else if (timeline.size > 0) io.out(timelineTable(timeline));
    return ExitCode.ok;
  } catch (err) {
    await renderer.stop();
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Each node's seconds from the start of the run to each state it reached. */
function timelineTable(timeline: ReadonlyMap<string, ReadonlyMap<string, number>>): string {
  const states = [...new Set([...timeline.values()].flatMap((t) => [...t.keys()]))];
  return table(
    ['NODE', ...states.map((s) => s.toUpperCase())],
    [...timeline].map(([n, t]) => [n, ...states.map((s) => (t.has(s) ? `${t.get(s)}s` : undefined))]),
  );
}

async function confirmWork(
  io: Io,
  work: readonly {
    id: string;
    title: string;
    actions: readonly { target: string; text: string }[];
    skipReason?: string;
  }[],
): Promise<boolean> {
  io.err('Plan of work:');
  for (const p of work) {
    io.err(`  ${p.title}${p.skipReason ? `: ${p.skipReason}` : ''}`);
    for (const a of p.actions) io.err(`    ${a.target}: ${a.text}`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question('Go ahead? [y/N] ');
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** `lab up`: the lab's own entry point, the same phases as `region up --lab`. It acts on this host only, so it does not ask. */
export function labUpCommand(
  io: Io,
  manifest: string,
  flags: Omit<UpFlags, 'lab' | 'yes' | 'dryRun'>,
): Promise<number> {
  return regionUpCommand(io, manifest, { ...flags, lab: true, yes: true, dryRun: false });
}
