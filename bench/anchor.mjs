// Whole-process timing against an anchor, as the speed targets are stated: the built CLI spawned as a
// user runs it, several times, median, beside the same command of the anchor (the commit before the
// speed work, cloned and built into a temporary folder in the same bench run) or a plain `cp -r`.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The commit before the bundled CLI and the planner's contributors: what the targets compare against. */
export const ANCHOR_COMMIT = '919bf11';

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Clones the anchor commit into a temporary folder and builds it; node_modules is this checkout's. */
export function buildAnchor(commit = ANCHOR_COMMIT) {
  const dir = mkdtempSync(join(os.tmpdir(), 'civostack-anchor-'));
  execFileSync('git', ['clone', '--quiet', '--no-checkout', '--shared', ROOT, dir], { stdio: 'inherit' });
  execFileSync('git', ['-C', dir, 'checkout', '--quiet', commit], { stdio: 'inherit' });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: dir,
      stdio: 'inherit',
    },
  );
  return {
    dir,
    cli: join(dir, 'bin/civostack'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Wall time of one run of argv (ms); throws when the command fails, so a broken build never times well. */
export function timeOnce(argv, options = {}) {
  const t0 = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], ...options });
  const ms = performance.now() - t0;
  if (r.status !== 0)
    throw new Error(`${argv.join(' ')} exited ${r.status}: ${String(r.stderr).slice(0, 400)}`);
  return ms;
}

/** Runs each command in turn, `runs` rounds, so load on a shared machine falls on both alike. */
export function timeInterleaved(commands, runs, before = () => {}) {
  const times = commands.map(() => []);
  for (let i = 0; i < runs; i++) {
    commands.forEach((c, k) => {
      before(c);
      times[k].push(timeOnce(c.argv, c.options));
    });
  }
  return commands.map((c, k) => ({ name: c.name, runs: times[k], medianMs: median(times[k]) }));
}

export const anchorExists = (dir) => existsSync(join(dir, 'dist/cli/main.js'));
