// What every validation rule gets: the manifest, the catalog, shared facts and a way to report.
import type { Catalog } from '../catalog.js';
import type { Path } from '../diagnostics.js';
import type { Facts } from '../facts.js';
import type { Manifest } from '../schema.js';

export interface FileRef {
  readonly path: Path;
  /** As written in the manifest, relative to the manifest's folder. */
  readonly ref: string;
  /**
   * 'secret': a small file only its owner may read (mode 0600 or stricter); 'public-keys': a small
   * file of OpenSSH public key lines. Every kind but 'directory' must be a regular file.
   */
  readonly kind: 'file' | 'directory' | 'secret' | 'public-keys';
  /** A missing file is fine (the lab generates it); one that exists is still checked. */
  readonly optional?: boolean;
}

export interface RuleContext {
  readonly manifest: Manifest;
  readonly catalog: Catalog;
  readonly facts: Facts;
  error(path: Path, code: string, message: string, hint?: string): void;
  warn(path: Path, code: string, message: string, hint?: string): void;
  /** "lab.yaml:41", for messages that name a second place. */
  at(path: Path): string;
  /** Files the manifest refers to; the loader checks they exist. */
  needFile(path: Path, ref: string, kind: FileRef['kind'], optional?: boolean): void;
}

export type Rule = (ctx: RuleContext) => void;

/** Reports the second and later occurrences of a key, naming the first. */
export function reportDuplicates<T>(
  ctx: RuleContext,
  items: Iterable<T>,
  key: (item: T) => string | undefined,
  path: (item: T) => Path,
  message: (item: T, first: T, where: string) => string,
  hint: string,
  code: string,
): void {
  const seen = new Map<string, T>();
  for (const item of items) {
    const k = key(item);
    if (k === undefined) continue;
    const first = seen.get(k);
    if (first === undefined) seen.set(k, item);
    else ctx.error(path(item), code, message(item, first, ctx.at(path(first))), hint);
  }
}

/** The closest known name, for "did you mean" hints. */
export function closest(word: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestScore) [best, bestScore] = [k, d];
  }
  return best !== undefined && bestScore <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

export function knownList(names: Iterable<string>): string {
  const all = [...names].sort();
  return all.length <= 8 ? all.join(', ') : `${all.slice(0, 8).join(', ')} … (${all.length} in all)`;
}
