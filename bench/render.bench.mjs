// Benchmark of render (every device's files, in memory) on synthetic regions of 1, 10, 100 and 250
// racks: 40 to 10,000 nodes, 2 to 500 ToRs. Each size runs in a fresh Node process; validate and
// plan happen first and are not timed here (bench/plan.bench.mjs times them).
//
//   npm run bench:render            (builds first; the bench imports the compiled dist/)
//   node bench/render.bench.mjs [--racks 1,10,100,250] [--runs N]
// Results: a table on stdout and bench/out/render-results.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { writeRegion } from './generate-region.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const OUT = join(HERE, 'out');
const TARGET_MS = 5000;

async function child(manifest, runs) {
  const { loadRegion } = await import('../dist/manifest/index.js');
  const { planRegion } = await import('../dist/plan/index.js');
  const { renderRegion, secretValues, DEFAULT_BOOT_OPTIONS } = await import('../dist/render/index.js');
  const { loadTemplates } = await import('../dist/cli/templates.js');
  const loaded = loadRegion(manifest);
  if (!loaded.ok)
    throw new Error(
      loaded.diagnostics
        .slice(0, 3)
        .map((d) => d.message)
        .join('; '),
    );
  const { plan } = planRegion(loaded.region, {}, { prune: false });
  const secrets = secretValues(
    new Map(plan.secrets.map((s) => [s.name, `bench-${s.name.replace(/\W/g, '-')}`])),
  );
  const templates = loadTemplates();
  const times = [];
  let files = 0;
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const tree = renderRegion({
      plan,
      templates,
      secrets,
      authorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJlbmNo bench'],
      boot: DEFAULT_BOOT_OPTIONS,
    });
    times.push(performance.now() - t0);
    files = tree.size;
    bytes = 0;
    for (const f of tree.values()) bytes += f.content.length;
  }
  const sorted = [...times].sort((a, b) => a - b);
  process.stdout.write(
    JSON.stringify({
      nodes: plan.nodes.length,
      switches: plan.switches.length,
      files,
      megabytes: bytes / 1e6,
      coldMs: times[0],
      medianMs: sorted[sorted.length >> 1],
      peakRssMB: process.resourceUsage().maxRSS / 1024,
    }),
  );
}

async function main() {
  const args = process.argv.slice(2);
  const arg = (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : fallback;
  };
  if (args[0] === '--child') return child(args[1], Number(args[2]));
  const sizes = arg('--racks', '1,10,100,250').split(',').map(Number);
  const runs = Number(arg('--runs', '3'));
  mkdirSync(OUT, { recursive: true });
  const rows = [];
  for (const racks of sizes) {
    const { file: manifest } = writeRegion(racks, OUT);
    const out = execFileSync(
      process.execPath,
      ['--max-old-space-size=4096', fileURLToPath(import.meta.url), '--child', manifest, String(runs)],
      { encoding: 'utf8' },
    );
    rows.push({ racks, ...JSON.parse(out) });
  }
  const pad = (v, n) => String(v).padStart(n);
  console.log(`racks  nodes  switches   files      MB  cold ms  median ms  ms/1k nodes  peak RSS MB`);
  for (const r of rows) {
    console.log(
      `${pad(r.racks, 5)}  ${pad(r.nodes, 5)}  ${pad(r.switches, 8)}  ${pad(r.files, 6)}  ${pad(r.megabytes.toFixed(1), 6)}  ${pad(r.coldMs.toFixed(0), 7)}  ${pad(r.medianMs.toFixed(0), 9)}  ${pad(((r.medianMs / r.nodes) * 1000).toFixed(1), 11)}  ${pad(r.peakRssMB.toFixed(0), 11)}`,
    );
  }
  const big = rows.at(-1);
  const mid = rows.find((r) => r.racks === 10) ?? rows[0];
  const ratio = big.medianMs / big.nodes / (mid.medianMs / mid.nodes);
  console.log(
    `\nper-node cost, ${big.racks} vs ${mid.racks} racks: ${ratio.toFixed(2)}x (${ratio < 1.5 ? 'roughly linear' : 'super-linear'})`,
  );
  console.log(
    `target: ${big.nodes} nodes rendered in < ${TARGET_MS} ms: ${big.medianMs.toFixed(0)} ms median, ${big.coldMs.toFixed(0)} ms cold: ${big.medianMs < TARGET_MS ? 'met' : 'NOT met'}`,
  );
  writeFileSync(
    join(OUT, 'render-results.json'),
    `${JSON.stringify({ date: new Date().toISOString(), loadavg: os.loadavg(), rows, ratio }, null, 2)}\n`,
  );
}

await main();
