// A content-addressed cache for built boot artifacts (installer, lab OS image): a build runs in a
// temporary folder and is renamed into place only once complete, so a crash never leaves a half artifact.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Hex sha256 of the recipe: every input that changes the artifact's bytes must be part of it. */
export function recipeKey(recipe: unknown): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

export interface CachedArtifact<T> {
  /** Folder holding the artifact's files. */
  readonly dir: string;
  readonly meta: T;
  /** False when a previous build was reused. */
  readonly built: boolean;
}

const META = 'meta.json';

/**
 * Returns `<root>/<name>-<key>/` built by `build` (which writes into the folder it is given and
 * returns metadata made of plain JSON values), or the one a previous run left there.
 */
export async function cachedArtifact<T>(opts: {
  readonly root: string;
  readonly name: string;
  readonly key: string;
  readonly build: (tmpDir: string) => Promise<T>;
}): Promise<CachedArtifact<T>> {
  const dir = join(opts.root, `${opts.name}-${opts.key}`);
  const metaFile = join(dir, META);
  if (existsSync(metaFile)) {
    return { dir, meta: JSON.parse(await readFile(metaFile, 'utf8')) as T, built: false };
  }
  await mkdir(opts.root, { recursive: true });
  // Same filesystem as the final folder, so the rename is atomic.
  const tmp = join(opts.root, `.tmp-${opts.name}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  try {
    const meta = await opts.build(tmp);
    await writeFile(join(tmp, META), JSON.stringify(meta, null, 2) + '\n');
    try {
      await rename(tmp, dir);
    } catch (err) {
      // A concurrent build finished first: keep its result, ours is identical by construction.
      if (!existsSync(metaFile)) throw err;
    }
    return { dir, meta, built: true };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Re-bases a path stored relative to the artifact folder. */
export const inCache = (entry: CachedArtifact<unknown>, file: string): string => join(entry.dir, file);
