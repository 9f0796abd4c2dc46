// Writing and reading a rendered tree on disk. A write replaces the whole folder at once: files go
// to a sibling temp folder which is renamed into place, so readers never see half a render.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { UserError } from '../errors.js';
import type { FileTree } from '../render/index.js';

/** Marks a folder as civostack's own, so a render never replaces a folder it did not write. */
export const MARKER = '.civostack-render';

export function writeTree(dir: string, tree: FileTree): void {
  const target = resolve(dir);
  if (existsSync(target)) {
    const entries = readdirSync(target);
    if (entries.length > 0 && !entries.includes(MARKER)) {
      throw new UserError(
        `${dir} exists and was not written by civostack`,
        'render into a new or empty folder: civostack replaces the whole folder on every render',
      );
    }
  }
  mkdirSync(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}`);
  const old = join(dirname(target), `.${basename(target)}.old-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    mkdirSync(tmp, { recursive: true, mode: 0o755 });
    for (const [path, file] of tree) {
      const full = join(tmp, path);
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, file.content, { mode: file.mode });
    }
    writeFileSync(
      join(tmp, MARKER),
      'Rendered by civostack. This folder is replaced as a whole on every render.\n',
    );
    if (existsSync(target)) renameSync(target, old);
    renameSync(tmp, target);
    rmSync(old, { recursive: true, force: true });
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(target) && existsSync(old)) renameSync(old, target);
    throw err;
  }
}

/** Every file under `dir` (relative path → text), or an empty map if `dir` does not exist. */
export function readTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const root = resolve(dir);
  if (!existsSync(root)) return out;
  if (!statSync(root).isDirectory()) throw new UserError(`${dir} is not a folder`);
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name !== MARKER)
        out.set(relative(root, full), readFileSync(full, 'utf8'));
    }
  };
  walk(root);
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
