// Golden files: a folder holding the expected render, byte for byte. compareGolden lists every
// difference (a missing, an extra or a different file) and never writes; updateGolden
// (UPDATE_GOLDEN=1) rewrites only the files that differ, removes those no longer rendered, and
// says which, so a regeneration is reviewed in the diff rather than taken on trust.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

export interface GoldenDifference {
  readonly path: string;
  /** missing: rendered, no golden file; extra: a golden file no longer rendered; changed: differs. */
  readonly kind: 'missing' | 'extra' | 'changed';
  /** For changed: the first line that differs, 1-based. */
  readonly line?: number;
}

/** Every file under `dir`, relative to it, sorted. */
function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)));
    }
  };
  walk(dir);
  return out.sort();
}

/** The line, 1-based, of the first byte where `a` and `b` differ (bytes: the encoding counts too). */
function firstDifferentLine(a: Buffer, b: Buffer): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.subarray(0, i).toString('latin1').split('\n').length;
}

/** How the files of `dir` differ from `expected` (path → content); empty when byte-identical. */
export function compareGolden(dir: string, expected: ReadonlyMap<string, string>): GoldenDifference[] {
  const out: GoldenDifference[] = [];
  const onDisk = new Set(listFiles(dir));
  for (const path of [...new Set([...onDisk, ...expected.keys()])].sort()) {
    const want = expected.get(path);
    if (want === undefined) out.push({ path, kind: 'extra' });
    else if (!onDisk.has(path)) out.push({ path, kind: 'missing' });
    else {
      const have = readFileSync(join(dir, path));
      const bytes = Buffer.from(want);
      if (!have.equals(bytes)) out.push({ path, kind: 'changed', line: firstDifferentLine(have, bytes) });
    }
  }
  return out;
}

/** Makes `dir` hold exactly `expected`, touching only what differs; returns what it changed. */
export function updateGolden(dir: string, expected: ReadonlyMap<string, string>): GoldenDifference[] {
  const differences = compareGolden(dir, expected);
  for (const d of differences) {
    const file = join(dir, d.path);
    if (d.kind === 'extra') {
      rmSync(file);
      removeEmptyParents(dirname(file), dir);
    } else {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, expected.get(d.path)!);
    }
  }
  return differences;
}

function removeEmptyParents(from: string, root: string): void {
  for (
    let d = from;
    d !== root && relative(root, d) !== '' && !relative(root, d).startsWith('..');
    d = dirname(d)
  ) {
    if (readdirSync(d).length > 0) return;
    rmdirSync(d);
  }
}

/** One line per difference, for a failure message or the update's report. */
export function describeGolden(differences: readonly GoldenDifference[]): string {
  return differences
    .map((d) => `${d.kind} ${d.path}${d.line === undefined ? '' : ` (from line ${d.line})`}`)
    .join('\n');
}
