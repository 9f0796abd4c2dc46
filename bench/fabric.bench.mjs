// Benchmark of the fabric rehearsal (`lab fabric`): time from starting FRR to every planned BGP
// session Established, the whole run, and the failure drill's wall time and per-failure
// convergence. Real FRR in network namespaces; needs root. One run per manifest (bounded: the
// drill takes minutes on two cores).
//
//   npm run build && sudo node bench/fabric.bench.mjs [--drill lab,nyc1]
// Defaults: lab.yaml with the drill, nyc1.yaml without. Results: stdout and bench/out/fabric-results.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const REPO = join(HERE, '..');
const OUT = join(HERE, 'out');
const arg = process.argv.indexOf('--drill');
const drilled = new Set((arg > 0 ? process.argv[arg + 1] : 'lab').split(','));

const results = [];
for (const name of ['lab', 'nyc1']) {
  const stateDir = mkdtempSync(join(os.tmpdir(), `fabric-bench-${name}-`));
  const args = [
    join(REPO, 'bin/civostack'),
    'lab',
    'fabric',
    join(REPO, `inventories/${name}.yaml`),
    '--state-dir',
    stateDir,
    '--output',
    'json',
  ];
  if (drilled.has(name)) args.push('--drill');
  let out;
  try {
    out = execFileSync('node', args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 << 20,
    });
  } catch (err) {
    out = err.stdout; // a failing check exits 1 and still reports
  }
  const r = JSON.parse(out);
  const conv = r.drill?.failures.map((f) => f.convergenceMs) ?? [];
  results.push({
    manifest: `${name}.yaml`,
    ok: r.ok,
    sessions: r.checks.find((c) => c.id === 'sessions').details[0],
    sessionsUpS: r.sessionsUpMs / 1000,
    wallS: r.wallMs / 1000,
    ...(r.drill
      ? {
          drillS: r.drill.wallMs / 1000,
          failures: r.drill.failures.length,
          cutOff: r.drill.failures.filter((f) => f.cutOff.length).map((f) => f.failure),
          convergenceMaxS: Math.max(...conv) / 1000,
          convergenceMedianS: [...conv].sort((a, b) => a - b)[Math.floor(conv.length / 2)] / 1000,
        }
      : {}),
  });
}
console.table(results);
mkdirSync(OUT, { recursive: true });
writeFileSync(
  join(OUT, 'fabric-results.json'),
  `${JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, results }, null, 2)}\n`,
);
