// Benchmark of the lab rehearsal as a user waits for it: the whole `civostack lab up <lab>`
// command timed from the outside (wall clock), then each node's seconds per phase from the node
// store's own history (nodes.history.jsonl: every state change with its time), then `lab down`.
// Cached artifacts are used when present (their build time is reported apart, as "artifacts").
//
//   npm run bench:lab                            (builds first)
//   node bench/lab.bench.mjs [--manifest inventories/lab.yaml] [--accel auto|kvm|tcg] [--timeout 45]
//                            [--until ssh-ready|<phase>|none]
// `lab up --until ssh-ready` by default: what is measured ends there, and Kubernetes after it would
// only make the run longer. `--until none` runs every phase (and is how a commit from before
// --until existed is measured).
// Results: a table on stdout and bench/out/lab-results.json. Needs root (namespaces, QEMU).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineInfo } from './machine.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const OUT = join(HERE, 'out');
const CLI = fileURLToPath(new URL('../bin/civostack', import.meta.url));

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const manifest = arg('--manifest', fileURLToPath(new URL('../inventories/lab.yaml', import.meta.url)));
const accel = arg('--accel', 'auto');
const timeout = arg('--timeout', '45');
const until = arg('--until', 'ssh-ready');
const state = join(mkdtempSync(join(os.tmpdir(), 'civostack-bench-lab-')), 'state');

/** The phases a node goes through, each ending at the state named. */
const PHASES = [
  ['dhcp', 'power-on → DHCP'],
  ['ipxe', 'DHCP → iPXE script'],
  ['installing', 'iPXE → installer running'],
  ['installed', 'image written + verified'],
  ['booted-from-disk', 'reboot → disk'],
  ['ssh-ready', 'OS boot + cloud-init → SSH'],
];

function run(args) {
  return new Promise((resolve) => {
    const lines = [];
    const child = spawn('node', [CLI, ...args, '--state-dir', state], {
      env: { ...process.env, NO_COLOR: '1', CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const onData = (d) => {
      for (const l of d.toString().split('\n')) {
        if (!l.trim()) continue;
        lines.push({ at: Date.now(), text: l });
        process.stderr.write(`  ${l}\n`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => resolve({ code, lines }));
  });
}

function history() {
  try {
    return readFileSync(join(state, 'nodes.history.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

const loadBefore = os.loadavg();
const t0 = Date.now();
const up = await run([
  'lab',
  'up',
  manifest,
  '--accel',
  accel,
  '--timeout',
  timeout,
  ...(until === 'none' ? [] : ['--until', until]),
]);
const wallS = (Date.now() - t0) / 1000;
const loadAfter = os.loadavg();

// Power-on: the line lab up prints per node when it starts its machine (through its BMC or QEMU).
const poweredOn = {};
for (const l of up.lines) {
  // "powered on" (QMP, no BMC) or the power phase's action line for a node powered through its BMC.
  const m = /(\S+): (?:powered on|boot-next PXE, power on)/.exec(l.text);
  if (m && poweredOn[m[1]] === undefined) poweredOn[m[1]] = l.at;
}
const firstPowerOn = Math.min(...Object.values(poweredOn), Date.now());
const artifactsS = (firstPowerOn - t0) / 1000;
const accelLine = up.lines.find((l) => /virtual machines:/.test(l.text))?.text ?? '';

const perNode = {};
for (const t of history()) {
  const n = (perNode[t.node] ??= { at: {} });
  n.at[t.to] ??= Date.parse(t.at);
}
const rows = Object.entries(perNode)
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([node, { at }]) => {
    let prev = poweredOn[node] ?? firstPowerOn;
    const phases = {};
    for (const [state] of PHASES) {
      if (at[state] === undefined) continue;
      phases[state] = Math.round((at[state] - prev) / 1000);
      prev = at[state];
    }
    const total = at['ssh-ready']
      ? Math.round((at['ssh-ready'] - (poweredOn[node] ?? firstPowerOn)) / 1000)
      : null;
    return { node, phases, powerOnToSshReadyS: total };
  });

await run(['lab', 'down', manifest]);
rmSync(join(state, '..'), { recursive: true, force: true });

console.log(
  `\nlab up${until === 'none' ? '' : ` --until ${until}`}: exit ${up.code}, ${wallS.toFixed(0)} s wall (artifacts and lab network ${artifactsS.toFixed(0)} s)`,
);
console.log(accelLine.replace(/^\S+ /, ''));
console.log(
  `load average before ${loadBefore.map((x) => x.toFixed(1)).join(' ')}, after ${loadAfter.map((x) => x.toFixed(1)).join(' ')}`,
);
const header = ['NODE', ...PHASES.map(([, label]) => label), 'POWER-ON → SSH-READY'];
console.log(header.join(' | '));
for (const r of rows)
  console.log(
    [
      r.node,
      ...PHASES.map(([s]) => (r.phases[s] === undefined ? '-' : `${r.phases[s]} s`)),
      `${r.powerOnToSshReadyS ?? '-'} s`,
    ].join(' | '),
  );
const slowest = Math.max(...rows.map((r) => r.powerOnToSshReadyS ?? Infinity));
console.log(`power-on to every node ssh-ready: ${slowest} s`);

mkdirSync(OUT, { recursive: true });
writeFileSync(
  join(OUT, 'lab-results.json'),
  JSON.stringify(
    {
      ...machineInfo(),
      qemu: spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0],
      loadavg: { before: loadBefore, after: loadAfter },
      measures: `the whole \`lab up${until === 'none' ? '' : ` --until ${until}`}\` command, wall clock; per-node phases from nodes.history.jsonl`,
      until,
      exitCode: up.code,
      wallS,
      artifactsS,
      accel: accelLine,
      powerOnToAllSshReadyS: slowest,
      nodes: rows,
    },
    null,
    2,
  ) + '\n',
);
process.exit(up.code === 0 ? 0 : 1);
