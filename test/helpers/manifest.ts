// Helpers for tests that need manifests: the shipped lab inventory, edited as YAML text or data.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { dump, load } from 'js-yaml';
import { loadRegion, type LoadResult } from '../../src/manifest/index.js';
import { tempDir } from './temp.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const LAB = join(REPO, 'inventories/lab.yaml');
export const NYC1 = join(REPO, 'inventories/nyc1.yaml');

export function labText(): string {
  return readFileSync(LAB, 'utf8');
}

export { tempDir } from './temp.js';

/** Writes `text` as a manifest in a temp folder and loads it. */
export function loadText(text: string, name = 'manifest.yaml'): LoadResult & { file: string } {
  const dir = tempDir();
  const file = join(dir, name);
  writeFileSync(file, text);
  return { ...loadRegion(file), file };
}

/** The lab manifest as data, changed by `edit`, written to a temp file. Loses comments. */
export function labWith(edit: (m: LabManifest) => void): string {
  const m = load(labText()) as LabManifest;
  edit(m);
  const dir = tempDir();
  const file = join(dir, 'lab.yaml');
  writeFileSync(file, dump(m, { lineWidth: 200 }));
  return file;
}

// Loose view of the manifest for editing in tests.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LabManifest = any;
