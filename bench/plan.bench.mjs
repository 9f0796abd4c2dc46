// Benchmark of `region validate` and `region plan` of 10,000 nodes. The target (issue "Speed"): each
// under 0.5 s as a whole process, startup included: bin/civostack spawned as a user runs it, median of
// --process-runs runs, beside the same commands of the anchor commit (cloned and built in a temporary
// folder in this run; see anchor.mjs), interleaved so a shared machine's load falls on both alike.
//
// Then the in-process breakdown, on synthetic regions of 1, 10, 100 and 250 racks (40 to 10,000
// nodes), each size in a fresh Node process: one cold run (load+validate, then plan), then several
// warm runs; validate is loadRegion (read, YAML, schema, rules, Region), plan is planRegion.
//
//   npm run bench                        (builds first; the bench runs the built CLI and dist/)
//   node bench/plan.bench.mjs [--runs N] [--phase-runs N] [--racks 1,10,100,250]
//                             [--process-runs N] [--no-anchor]
// Results: a table on stdout and bench/out/plan-results.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { machineInfo } from './machine.mjs';
import { writeRegion } from './generate-region.mjs';
import { ANCHOR_COMMIT, buildAnchor, ROOT, timeInterleaved } from './anchor.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const OUT = join(HERE, 'out');
const DIST = new URL('../dist/', import.meta.url);
/** The target of the issue: 10,000 nodes validated, and planned, each in under 0.5 s as a whole process. */
const TARGET_MS = 500;
const TARGET_NODES = 10000;
const TARGET_RACKS = 250;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

// ---- child: one size, measured in this process ----
async function child(manifest, runs, phaseRuns) {
  const { loadRegion, parseYaml, loadCatalog, validateManifest, resolveRegion, BUILTIN_CATALOG } =
    await import(new URL('manifest/index.js', DIST).href);
  const { planRegion } = await import(new URL('plan/index.js', DIST).href);
  const once = () => {
    const t0 = performance.now();
    const loaded = loadRegion(manifest);
    const t1 = performance.now();
    if (!loaded.ok) {
      const first = loaded.diagnostics.slice(0, 5).map((d) => `${d.code}: ${d.message}`);
      throw new Error(`${manifest} is not valid:\n  ${first.join('\n  ')}`);
    }
    const { plan } = planRegion(loaded.region, {}, { prune: false });
    const t2 = performance.now();
    if (plan.nodes.length !== loaded.region.nodes.length) throw new Error('plan lost nodes');
    return { validateMs: t1 - t0, planMs: t2 - t1, totalMs: t2 - t0, nodes: plan.nodes.length };
  };
  const cold = once();
  const warm = [];
  for (let i = 0; i < runs; i++) {
    globalThis.gc?.();
    warm.push(once());
  }
  // Where validate's time goes: the same steps as loadRegion, timed one by one (after the runs above,
  // so they do not change the cold figure).
  const phases = [];
  for (let i = 0; i < phaseRuns; i++) {
    globalThis.gc?.();
    const t = [performance.now()];
    const parsed = parseYaml(readFileSync(manifest, 'utf8'), manifest);
    t.push(performance.now());
    const { catalog } = loadCatalog([BUILTIN_CATALOG, join(dirname(manifest), 'hardware')]);
    t.push(performance.now());
    const v = validateManifest(parsed.doc, catalog);
    t.push(performance.now());
    const region = resolveRegion(manifest, v.manifest, catalog);
    t.push(performance.now());
    planRegion(region, {}, { prune: false });
    t.push(performance.now());
    const d = (k) => t[k + 1] - t[k];
    phases.push({ yamlMs: d(0), catalogMs: d(1), rulesMs: d(2), resolveMs: d(3), planMs: d(4) });
  }
  const phaseMedian = Object.fromEntries(
    Object.keys(phases[0] ?? {}).map((k) => [k, median(phases.map((p) => p[k]))]),
  );
  const ru = process.resourceUsage();
  const pick = (k) => warm.map((w) => w[k]);
  const best = warm.reduce((a, b) => (b.totalMs < a.totalMs ? b : a));
  process.stdout.write(
    JSON.stringify({
      nodes: cold.nodes,
      runs,
      cold,
      best,
      median: {
        validateMs: median(pick('validateMs')),
        planMs: median(pick('planMs')),
        totalMs: median(pick('totalMs')),
      },
      warm,
      phases: phaseMedian,
      // maxRSS is in kilobytes (getrusage).
      peakRssMB: ru.maxRSS / 1024,
    }),
  );
}

// ---- parent: generate each size, run a child per size, report ----
/** validate and plan of 10,000 nodes, whole process, this build beside the anchor's. */
function wholeProcess(processRuns) {
  const { file, nodes } = writeRegion(TARGET_RACKS, OUT);
  const anchor = process.argv.includes('--no-anchor') ? undefined : buildAnchor();
  try {
    const cli = (bin, verb) => [
      process.execPath,
      bin,
      'region',
      verb,
      file,
      ...(verb === 'plan' ? ['--no-save'] : []),
    ];
    const commands = ['validate', 'plan'].flatMap((verb) => [
      { name: `${verb} (this build)`, verb, argv: cli(join(ROOT, 'bin/civostack'), verb) },
      ...(anchor ? [{ name: `${verb} (anchor ${ANCHOR_COMMIT})`, verb, argv: cli(anchor.cli, verb) }] : []),
    ]);
    const timed = timeInterleaved(commands, processRuns);
    console.log(
      `\nwhole process, ${nodes} nodes, median of ${processRuns} runs (bin/civostack spawned as a user runs it)`,
    );
    for (const t of timed)
      console.log(
        `  ${t.name.padEnd(28)} ${round(t.medianMs)} ms   runs: ${t.runs.map((x) => round(x, 0)).join(' ')}`,
      );
    const targets = ['validate', 'plan'].map((verb) => {
      const ours = timed.find((t) => t.name === `${verb} (this build)`);
      const theirs = timed.find((t) => t.name.startsWith(`${verb} (anchor`));
      const met = ours.medianMs < TARGET_MS;
      console.log(
        `target: region ${verb} of ${nodes} nodes in < ${TARGET_MS} ms: ${round(ours.medianMs)} ms: ${met ? 'met' : 'NOT met'}` +
          (theirs
            ? ` (anchor ${round(theirs.medianMs)} ms, ${round(theirs.medianMs / ours.medianMs, 2)}x faster)`
            : ''),
      );
      return { verb, nodes, limitMs: TARGET_MS, medianMs: ours.medianMs, anchorMs: theirs?.medianMs, met };
    });
    return { anchorCommit: anchor ? ANCHOR_COMMIT : undefined, runs: processRuns, timed, targets };
  } finally {
    anchor?.remove();
  }
}

function parent() {
  const sizes = arg('--racks', '1,10,100,250').split(',').map(Number);
  const runs = Number(arg('--runs', '5'));
  mkdirSync(OUT, { recursive: true });
  const started = performance.now();
  const whole = wholeProcess(Number(arg('--process-runs', '5')));
  const results = [];
  for (const racks of sizes) {
    const { file, nodes, bytes } = writeRegion(racks, OUT);
    const stdout = execFileSync(
      process.execPath,
      ['--expose-gc', fileURLToPath(import.meta.url), '--child', file, '--runs', String(runs)],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20 },
    );
    const r = JSON.parse(stdout);
    if (r.nodes !== nodes) throw new Error(`expected ${nodes} nodes, planned ${r.nodes}`);
    results.push({ racks, manifestBytes: bytes, ...r });
    process.stderr.write(
      `  ${racks} racks: cold ${round(r.cold.totalMs)} ms, median ${round(r.median.totalMs)} ms\n`,
    );
  }

  const header = [
    'racks',
    'nodes',
    'validate ms',
    'plan ms',
    'total ms',
    'best ms',
    'cold ms',
    'peak RSS MB',
    'ms/1k nodes',
  ];
  const rows = results.map((r) => [
    r.racks,
    r.nodes,
    round(r.median.validateMs),
    round(r.median.planMs),
    round(r.median.totalMs),
    round(r.best.totalMs),
    round(r.cold.totalMs),
    round(r.peakRssMB),
    round((r.median.totalMs / r.nodes) * 1000, 2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padStart(widths[i])).join('  ');
  console.log(`\nvalidate+plan, median of ${runs} warm runs after a cold one (fresh process per size)`);
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));

  const phaseKeys = ['yamlMs', 'catalogMs', 'rulesMs', 'resolveMs', 'planMs'];
  if (results.every((r) => r.phases?.yamlMs !== undefined)) {
    const ph = ['racks', 'YAML parse', 'catalog', 'schema+rules', 'resolve', 'plan'];
    const prow = results.map((r) => [r.racks, ...phaseKeys.map((k) => round(r.phases[k]))]);
    const pw = ph.map((h, i) => Math.max(h.length, ...prow.map((row) => String(row[i]).length)));
    const pline = (cells) => cells.map((c, i) => String(c).padStart(pw[i])).join('  ');
    console.log('\nwhere the time goes, ms (median of the phase runs; validate = the first four)');
    console.log(pline(ph));
    console.log(pline(pw.map((w) => '-'.repeat(w))));
    for (const row of prow) console.log(pline(row));
  }

  // Linearity. Raw per-node cost (as the issue asks) at the largest size against 10 racks; it is
  // flattered by the fixed cost (catalog, module warm-up) that small regions pay. So also the
  // marginal cost: (T - T1) / (N - N1), time per node above the 1-rack region, at both sizes.
  const perNode = (r) => r.median.totalMs / r.nodes;
  const big = results.at(-1);
  const ref = results.find((r) => r.racks === 10) ?? results.find((r) => r.racks > 1) ?? results[0];
  const ratio = perNode(big) / perNode(ref);
  const base = results[0];
  const marginal = (r) => (r.median.totalMs - base.median.totalMs) / (r.nodes - base.nodes);
  const marginalRatio =
    ref !== base && big !== base && ref !== big ? marginal(big) / marginal(ref) : undefined;
  // Slope of each segment between consecutive sizes, ms per 1000 nodes: constant when linear.
  const slopes = results.slice(1).map((r, i) => ({
    from: results[i].racks,
    to: r.racks,
    msPer1000Nodes: ((r.median.totalMs - results[i].median.totalMs) / (r.nodes - results[i].nodes)) * 1000,
  }));
  const slopeRatio =
    slopes.length >= 2 ? slopes.at(-1).msPer1000Nodes / slopes.at(-2).msPer1000Nodes : undefined;
  const linear = (slopeRatio ?? marginalRatio ?? ratio) <= 1.5;
  console.log(
    `\nper-node cost, ${big.racks} vs ${ref.racks} racks: ${round(ratio, 2)}x raw` +
      (marginalRatio === undefined
        ? ''
        : `, ${round(marginalRatio, 2)}x marginal (${round(marginal(ref) * 1000)} → ${round(
            marginal(big) * 1000,
          )} ms per 1000 nodes above ${base.racks} rack)`) +
      '',
  );
  if (slopes.length > 0) {
    console.log(
      'slope between sizes, ms per 1000 nodes: ' +
        slopes.map((x) => `${x.from}→${x.to}: ${round(x.msPer1000Nodes)}`).join(', ') +
        (slopeRatio === undefined ? '' : ` (last/previous ${round(slopeRatio, 2)}x)`),
    );
  }
  console.log(`growth: ${linear ? 'roughly linear' : 'super-linear'}`);
  // In-process, for the breakdown only: the target is the whole process's (above).
  const at10k = results.find((r) => r.nodes === TARGET_NODES);
  if (at10k) {
    console.log(
      `in-process at ${TARGET_NODES} nodes: ${round(at10k.median.totalMs)} ms median warm, ` +
        `${round(at10k.cold.totalMs)} ms cold (validate+plan, modules already loaded)`,
    );
  }

  const json = {
    ...machineInfo(),
    loadavg: os.loadavg(),
    runs,
    linearity: {
      from: ref.racks,
      to: big.racks,
      perNodeRatio: ratio,
      marginalPerNodeRatio: marginalRatio,
      marginalMsPer1000Nodes:
        marginalRatio === undefined ? undefined : { from: marginal(ref) * 1000, to: marginal(big) * 1000 },
      slopes,
      slopeRatio,
      linear,
    },
    wholeProcess: whole,
    results,
    elapsedMs: performance.now() - started,
  };
  const path = join(OUT, 'plan-results.json');
  writeFileSync(path, JSON.stringify(json, null, 2) + '\n');
  console.log(`results: ${path}`);
}

if (process.argv.includes('--child')) {
  await child(arg('--child'), Number(arg('--runs', '5')), Number(arg('--phase-runs', '2')));
} else {
  parent();
}
