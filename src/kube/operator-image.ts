// civostack-operator as a container image: the Go module in src/operator built to one static
// binary and packed with writeImageArchive, cached by the hash of that module's files.
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { cachedArtifact, recipeKey } from '../boot/artifact-cache.js';
import { UserError } from '../errors.js';
import { writeImageArchive } from './oci.js';

export interface EnsureOperatorImageOptions {
  /** Default /var/cache/civostack. */
  readonly cacheDir?: string;
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export interface OperatorImage {
  /** localhost/civostack-operator:<src/operator/VERSION> */
  readonly ref: string;
  /** docker-save archive that `ctr -n k8s.io images import` files under `ref`. */
  readonly archive: string;
  /** sha256 of the archive. */
  readonly sha256: string;
}

interface Meta {
  readonly ref: string;
  readonly archive: string;
  readonly sha256: string;
  readonly size: number;
  readonly goVersion: string;
}

/** The module, beside src/ and dist/ alike. */
const OPERATOR_DIR = fileURLToPath(new URL('../../src/operator/', import.meta.url));
const BINARY = 'civostack-operator';
const ARCHIVE = 'image.tar';
/** Bump when the build steps below change what they produce. */
const RECIPE_VERSION = 1;

/** Builds the image, or returns the one a previous run built from the same sources. */
export async function ensureOperatorImage(opts: EnsureOperatorImageOptions = {}): Promise<OperatorImage> {
  const log = opts.log ?? (() => {});
  const sources = await moduleFiles(OPERATOR_DIR);
  const version = (await readFile(join(OPERATOR_DIR, 'VERSION'), 'utf8')).trim();
  const ref = `localhost/civostack-operator:${version}`;
  const goVersion = await goEnv('GOVERSION', opts.signal);
  const key = recipeKey({ RECIPE_VERSION, ref, goVersion, arch: process.arch, sources });
  const entry = await cachedArtifact<Meta>({
    root: opts.cacheDir ?? '/var/cache/civostack',
    name: 'operator',
    key,
    build: async (tmp) => {
      const started = Date.now();
      log(`operator: building ${ref} with ${goVersion}`);
      const binary = join(tmp, BINARY);
      await goBuild(binary, opts.signal);
      const image = await writeImageArchive({
        ref,
        files: [{ path: `/usr/local/bin/${BINARY}`, source: binary, mode: 0o755 }],
        entrypoint: [`/usr/local/bin/${BINARY}`],
        out: join(tmp, ARCHIVE),
      });
      await rm(binary); // the image holds it
      log(`operator: ${ref} built in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      return { ref, archive: ARCHIVE, sha256: image.sha256, size: image.size, goVersion };
    },
  });
  if (!entry.built) log(`operator: reusing ${entry.dir}`);
  return { ref: entry.meta.ref, archive: join(entry.dir, entry.meta.archive), sha256: entry.meta.sha256 };
}

/** Every file of the module as path → sha256, sorted: the recipe sees any edit, tests included. */
async function moduleFiles(dir: string): Promise<[string, string][]> {
  const out: [string, string][] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = join(e.parentPath, e.name);
    out.push([
      relative(dir, full),
      createHash('sha256')
        .update(await readFile(full))
        .digest('hex'),
    ]);
  }
  return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

async function goEnv(name: string, signal?: AbortSignal): Promise<string> {
  const r = await execa('go', ['env', name], { ...(signal && { cancelSignal: signal }), reject: false });
  if (r.failed) {
    throw new UserError(
      'the Go toolchain is needed to build civostack-operator, and `go env` failed',
      `install Go 1.26 or newer and put it on PATH (${shortError(r)})`,
    );
  }
  return r.stdout.trim();
}

/** A static binary (no cgo), reproducible (-trimpath, no VCS stamp), stripped. */
async function goBuild(out: string, signal?: AbortSignal): Promise<void> {
  const r = await execa(
    'go',
    ['build', '-mod=readonly', '-trimpath', '-buildvcs=false', '-ldflags=-s -w', '-o', out, '.'],
    {
      cwd: OPERATOR_DIR,
      env: { CGO_ENABLED: '0' },
      ...(signal && { cancelSignal: signal }),
      reject: false,
      all: true,
    },
  );
  if (signal?.aborted) throw signal.reason;
  if (r.failed) {
    throw new UserError(
      `building civostack-operator failed (go build in ${OPERATOR_DIR})`,
      shortError(r) + '\nThe Go module proxy must be reachable the first time the module builds.',
    );
  }
}

function shortError(r: {
  readonly all?: unknown;
  readonly stderr?: unknown;
  readonly shortMessage?: string | undefined;
}): string {
  const text =
    [r.all, r.stderr].find((t): t is string => typeof t === 'string' && t !== '') ?? r.shortMessage ?? '';
  return text.trim().split('\n').slice(-15).join('\n');
}
