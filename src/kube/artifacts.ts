// Upstream Kubernetes for the kubeadm distribution, built here from the Go module proxy (no registry
// ships its binaries or images to these machines): kubeadm, kubelet, kubectl and etcdctl for the
// nodes, and the control plane's images as archives containerd imports. Cached by recipe; an airgap
// folder of the same layout is checked file by file (loadKubeArtifacts).
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ExecaError } from 'execa';
import { z } from 'zod';
import { ExitCode, UserError } from '../errors.js';
import { writeImageArchive, type ImageFile } from './oci.js';

export type KubeRole = 'control-plane' | 'worker';

export interface KubeArtifactFile {
  readonly name: string;
  /** Absolute. */
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  readonly kind: 'binary' | 'image';
  /** Images only: the ref `ctr -n k8s.io images import` files it under. */
  readonly ref?: string;
  /** The nodes that need it. */
  readonly roles: readonly KubeRole[];
}

export interface KubeArtifacts {
  readonly dir: string;
  /** e.g. v1.35.4 */
  readonly kubernetesVersion: string;
  /** e.g. 3.6.16 */
  readonly etcdVersion: string;
  /** e.g. registry.k8s.io/etcd:3.6.16-0: kubeadm's ClusterConfiguration etcd.local.imageTag must name it. */
  readonly etcdImage: string;
  readonly pauseImage: string;
  readonly files: readonly KubeArtifactFile[];
}

export interface EnsureKubeArtifactsOptions {
  /** Default /var/cache/civostack. */
  readonly cacheDir?: string;
  readonly log?: (line: string) => void;
  readonly signal?: AbortSignal;
}

export const DEFAULT_CACHE_DIR = '/var/cache/civostack';
const MANIFEST = 'artifacts.json';
/** The Go modules: committed go.mod/go.sum, hashed into the recipe. Beside src/ and dist/ alike. */
const MODULES_DIR = fileURLToPath(new URL('../../src/kube/build/', import.meta.url));
const KUBERNETES_MODULE = join(MODULES_DIR, 'kubernetes');
const ETCD_MODULE = join(MODULES_DIR, 'etcd');
const KUBERNETES_PKG = 'k8s.io/kubernetes';
const ETCD_PKG = 'go.etcd.io/etcd/server/v3';
/** kubeadm v1.35's constants.PauseVersion; checked against build/pause/Makefile's TAG at build time. */
const PAUSE_VERSION = '3.10.1';
/** v1.35.4's release date (the module proxy's .info): the buildDate `version` reports. */
const BUILD_DATE = '2026-04-15T18:01:22Z';
/** Bump when the build steps change what they produce. */
const RECIPE_VERSION = 1;
const ALL: readonly KubeRole[] = ['control-plane', 'worker'];
const CONTROL_PLANE: readonly KubeRole[] = ['control-plane'];

/** The binaries in the images: their commands run by name in kubeadm's static pods, so they sit on PATH. */
const CONTROL_PLANE_IMAGES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
/** Installed on the nodes themselves. */
const NODE_BINARIES = ['kubeadm', 'kubelet', 'kubectl'] as const;

/** `require <module> vX.Y.Z` in a committed go.mod: the one place a version is written down. */
function requiredVersion(goMod: string, module: string): string {
  const m = new RegExp(`^\\s*(?:require\\s+)?${module.replace(/[.]/g, '\\.')}\\s+(v\\S+)\\s*$`, 'm').exec(
    goMod,
  );
  if (!m?.[1]) throw new Error(`${module} is not required in ${goMod.slice(0, 80)}…`);
  return m[1];
}

/** -ldflags: what `kubectl version` and the nodes report; without it they say v0.0.0-master and kubeadm refuses. */
export function kubernetesLdflags(version: string): string {
  const m = /^v(\d+)\.(\d+)\.\d+$/.exec(version);
  if (!m) throw new Error(`Kubernetes version ${version} is not vMAJOR.MINOR.PATCH`);
  const vars = {
    gitVersion: version,
    gitMajor: m[1],
    gitMinor: m[2],
    // The module proxy serves no commit; empty rather than the source archive's "$Format:%H$".
    gitCommit: '',
    gitTreeState: 'archive',
    buildDate: BUILD_DATE,
  };
  const x = ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version'].flatMap((pkg) =>
    Object.entries(vars).map(([k, v]) => `-X ${pkg}.${k}=${v}`),
  );
  return ['-s', '-w', ...x].join(' ');
}

interface Recipe {
  readonly version: number;
  readonly kubernetesVersion: string;
  readonly etcdVersion: string;
  readonly pauseVersion: string;
  readonly ldflags: string;
  readonly etcdLdflags: string;
  readonly pauseCflags: readonly string[];
  readonly etcdImage: string;
  readonly pauseImage: string;
  /** sha256 of each module file. */
  readonly modules: Readonly<Record<string, string>>;
}

const MODULE_FILES = [
  'kubernetes/go.mod',
  'kubernetes/go.sum',
  'kubernetes/tools.go',
  'etcd/go.mod',
  'etcd/go.sum',
  'etcd/tools.go',
  'etcd/cmd/etcd/main.go',
];

/** Everything that decides the artifacts' bytes. Pure but for reading the committed module files. */
export function kubeRecipe(modulesDir = MODULES_DIR): Recipe {
  const read = (f: string) => readFileSync(join(modulesDir, f), 'utf8');
  const kubernetesVersion = requiredVersion(read('kubernetes/go.mod'), KUBERNETES_PKG);
  const etcdVersion = requiredVersion(read('etcd/go.mod'), ETCD_PKG).replace(/^v/, '');
  // upstream's Makefile: -DVERSION=v$(TAG)-$(git describe --contains), the Kubernetes tag at a release.
  const pauseCflags = [
    '-Os',
    '-Wall',
    '-Werror',
    '-static',
    `-DVERSION=v${PAUSE_VERSION}-${kubernetesVersion}`,
  ];
  return {
    version: RECIPE_VERSION,
    kubernetesVersion,
    etcdVersion,
    pauseVersion: PAUSE_VERSION,
    ldflags: kubernetesLdflags(kubernetesVersion),
    etcdLdflags: '-s -w',
    pauseCflags,
    // upstream's etcd image tags add a -N image revision to etcd's version.
    etcdImage: `registry.k8s.io/etcd:${etcdVersion}-0`,
    pauseImage: `registry.k8s.io/pause:${PAUSE_VERSION}`,
    modules: Object.fromEntries(
      MODULE_FILES.map((f) => [f, createHash('sha256').update(read(f)).digest('hex')]),
    ),
  };
}

export function recipeHash(recipe: Recipe): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex');
}

// artifacts.json: paths relative to its folder, so a copied folder (airgap) still reads.
const manifestSchema = z.object({
  recipe: z.string(),
  kubernetesVersion: z.string(),
  etcdVersion: z.string(),
  etcdImage: z.string(),
  pauseImage: z.string(),
  go: z.string(),
  files: z.array(
    z.object({
      name: z.string(),
      path: z.string().regex(/^(bin|images)\/[A-Za-z0-9._-]+$/),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      size: z.number().int().nonnegative(),
      kind: z.enum(['binary', 'image']),
      ref: z.string().optional(),
      roles: z.array(z.enum(['control-plane', 'worker'])),
    }),
  ),
});
type Manifest = z.infer<typeof manifestSchema>;

function readManifest(dir: string): Manifest {
  const file = join(dir, MANIFEST);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UserError(
      `${file} does not exist: ${dir} is not a Kubernetes artifacts folder`,
      'make one with `civostack kube artifacts` and copy the folder it prints',
    );
  }
  const parsed = manifestSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new UserError(
      `${file} is not a Kubernetes artifacts list: ${parsed.error.issues[0]?.message ?? ''}`,
    );
  return parsed.data;
}

function toArtifacts(dir: string, m: Manifest): KubeArtifacts {
  return {
    dir,
    kubernetesVersion: m.kubernetesVersion,
    etcdVersion: m.etcdVersion,
    etcdImage: m.etcdImage,
    pauseImage: m.pauseImage,
    files: m.files.map((f) => ({
      name: f.name,
      path: join(dir, f.path),
      sha256: f.sha256,
      size: f.size,
      kind: f.kind,
      ...(f.ref !== undefined ? { ref: f.ref } : {}),
      roles: f.roles,
    })),
  };
}

function sha256File(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4 * 1024 * 1024);
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** Every missing or damaged file, named; `hash` false checks sizes only (a warm cache, seconds count). */
function problems(a: KubeArtifacts, hash: boolean): string[] {
  const out: string[] = [];
  for (const f of a.files) {
    const st = existsSync(f.path) ? statSync(f.path) : undefined;
    if (!st?.isFile()) out.push(`${f.name} (${f.path}): missing`);
    else if (st.size !== f.size) out.push(`${f.name} (${f.path}): ${st.size} bytes, expected ${f.size}`);
    else if (hash && sha256File(f.path) !== f.sha256) out.push(`${f.name} (${f.path}): sha256 differs`);
  }
  return out;
}

/**
 * An airgap folder made by `civostack kube artifacts` elsewhere: every file's size and sha256
 * checked; one error names every missing or mismatched file.
 */
/**
 * The images an artifacts folder's artifacts.json names, as kubeadm's files need them, without
 * reading its files (the render and diff need only these; the stage phase checks every file).
 */
export function artifactImages(dir: string): { etcdImageTag: string; pauseImage: string } {
  const m = readManifest(resolve(dir));
  return { etcdImageTag: m.etcdImage.split(':').at(-1)!, pauseImage: m.pauseImage };
}

export function loadKubeArtifacts(dir: string): KubeArtifacts {
  const abs = resolve(dir);
  const artifacts = toArtifacts(abs, readManifest(abs));
  const bad = problems(artifacts, true);
  if (bad.length > 0)
    throw new UserError(
      `${bad.length} of ${artifacts.files.length} Kubernetes artifacts in ${abs} are missing or damaged:\n  ${bad.join('\n  ')}`,
      'copy the folder again from where `civostack kube artifacts` made it',
    );
  return artifacts;
}

/** The first of `candidates` that runs `args` successfully (a tool on PATH, else where its installer puts it). */
async function findTool(candidates: readonly string[], args: readonly string[]): Promise<string | undefined> {
  for (const candidate of candidates)
    if ((await execa(candidate, args, { reject: false })).exitCode === 0) return candidate;
  return undefined;
}

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** The last lines of a failed command's output, for the error message. */
function tail(err: unknown, lines = 25): string {
  const e = err as Partial<ExecaError>;
  const text = String(e.all ?? e.stderr ?? e.message ?? err);
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** A build's temp folder: beside the cache entry (same filesystem, so the rename is atomic), named by its pid. */
const tempName = (root: string, hash: string) =>
  join(root, `.tmp-kubernetes-${hash.slice(0, 16)}-${process.pid}-${randomBytes(4).toString('hex')}`);

/** Build temp folders left by a killed run (their process is gone) are removed on the next one. */
async function removeAbandoned(root: string): Promise<void> {
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const m = /^\.tmp-kubernetes-[0-9a-f]+-(\d+)-[0-9a-f]+$/.exec(name);
    if (!m) continue;
    let alive = true;
    try {
      process.kill(Number(m[1]), 0);
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) await rm(join(root, name), { recursive: true, force: true });
  }
}

/**
 * The Kubernetes artifacts for this recipe: from `${cacheDir}/kubernetes-<hash>/`, or built there
 * (a cold build takes several minutes on two cores; Go's module and build caches make the next
 * recipe faster). The build runs in a temp folder beside it and is renamed in place when complete.
 */
export async function ensureKubeArtifacts(opts: EnsureKubeArtifactsOptions = {}): Promise<KubeArtifacts> {
  const root = resolve(opts.cacheDir ?? DEFAULT_CACHE_DIR);
  const log = opts.log ?? (() => {});
  const recipe = kubeRecipe();
  const hash = recipeHash(recipe);
  const dir = join(root, `kubernetes-${hash.slice(0, 16)}`);
  const started = Date.now();
  if (existsSync(join(dir, MANIFEST))) {
    const cached = toArtifacts(dir, readManifest(dir));
    const bad = problems(cached, false);
    if (bad.length === 0) {
      log(`kubernetes ${recipe.kubernetesVersion}: cached in ${dir} (${seconds(started)})`);
      return cached;
    }
    log(
      `kubernetes ${recipe.kubernetesVersion}: cache entry ${dir} is damaged (${bad.join('; ')}); building again`,
    );
    const aside = tempName(root, hash);
    await rename(dir, aside).catch(() => undefined);
    await rm(aside, { recursive: true, force: true });
  }

  await mkdir(root, { recursive: true });
  await removeAbandoned(root);
  const tmp = tempName(root, hash);
  await mkdir(tmp);
  try {
    const manifest = await build(recipe, hash, tmp, log, opts.signal);
    await writeFile(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Another caller finished the same recipe first: its folder stands, ours was the same build.
      if (!existsSync(join(dir, MANIFEST))) throw err;
      log(`kubernetes ${recipe.kubernetesVersion}: another build finished first; using ${dir}`);
      return toArtifacts(dir, readManifest(dir));
    }
    log(`kubernetes ${recipe.kubernetesVersion}: built in ${dir} (${seconds(started)})`);
    return toArtifacts(dir, manifest);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function build(
  recipe: Recipe,
  hash: string,
  tmp: string,
  log: (line: string) => void,
  signal: AbortSignal | undefined,
): Promise<Manifest> {
  const go = await findTool(['go', '/usr/local/go/bin/go'], ['version']);
  if (!go)
    throw new UserError(
      'go is not installed: civostack builds Kubernetes from its Go module',
      'install Go 1.25 or newer (the official tarball puts it in /usr/local/go/bin), or use an artifacts folder made elsewhere',
    );
  const gcc = await findTool(['gcc'], ['--version']);
  if (!gcc)
    throw new UserError('gcc is not installed: it builds the pause binary', 'apt-get install gcc libc6-dev');

  const env = {
    CGO_ENABLED: '0',
    // The go.sum files are complete: a build never edits them, and needs the network only for modules not yet cached.
    GOFLAGS: '-mod=readonly -buildvcs=false',
    // The toolchain on this machine, never one downloaded because a go.mod asks for a newer one.
    GOTOOLCHAIN: 'local',
  };
  const run = async (step: string, cmd: string, args: readonly string[], cwd: string) => {
    if (signal?.aborted) throw new UserError(`${step}: cancelled`, undefined, ExitCode.cancelled);
    const t = Date.now();
    try {
      const r = await execa(cmd, args, {
        cwd,
        env,
        all: true,
        ...(signal ? { cancelSignal: signal } : {}),
      });
      log(`${step} (${seconds(t)})`);
      return r.stdout.trim();
    } catch (err) {
      if (signal?.aborted) throw new UserError(`${step}: cancelled`, undefined, ExitCode.cancelled);
      throw new UserError(
        `${step} failed:\n${tail(err)}`,
        'the Go module proxy must be reachable for modules not yet in the module cache (go env GOPROXY GOMODCACHE)',
      );
    }
  };

  const goVersion = await run('go version', go, ['env', 'GOVERSION'], KUBERNETES_MODULE);
  const work = join(tmp, 'work');
  await mkdir(join(tmp, 'bin'), { recursive: true });
  await mkdir(join(tmp, 'images'), { recursive: true });
  await mkdir(work, { recursive: true });
  await run(
    `download Go modules for kubernetes ${recipe.kubernetesVersion}`,
    go,
    ['mod', 'download'],
    KUBERNETES_MODULE,
  );
  await run(`download Go modules for etcd ${recipe.etcdVersion}`, go, ['mod', 'download'], ETCD_MODULE);

  const goBuild = (name: string, pkg: string, out: string, ldflags: string, cwd: string) =>
    run(`build ${name}`, go, ['build', '-trimpath', '-ldflags', ldflags, '-o', out, pkg], cwd);
  for (const name of [...CONTROL_PLANE_IMAGES, ...NODE_BINARIES]) {
    const out = join((NODE_BINARIES as readonly string[]).includes(name) ? join(tmp, 'bin') : work, name);
    await goBuild(name, `${KUBERNETES_PKG}/cmd/${name}`, out, recipe.ldflags, KUBERNETES_MODULE);
  }
  await goBuild('etcd', './cmd/etcd', join(work, 'etcd'), recipe.etcdLdflags, ETCD_MODULE);
  await goBuild(
    'etcdctl',
    'go.etcd.io/etcd/etcdctl/v3',
    join(tmp, 'bin', 'etcdctl'),
    recipe.etcdLdflags,
    ETCD_MODULE,
  );

  // pause from the Kubernetes module's own source, as upstream's build/pause/Makefile compiles it.
  const moduleDir = await run(
    'locate the kubernetes module',
    go,
    ['list', '-m', '-f', '{{.Dir}}', KUBERNETES_PKG],
    KUBERNETES_MODULE,
  );
  const makefile = await readFile(join(moduleDir, 'build/pause/Makefile'), 'utf8');
  const tag = /^TAG \?= (\S+)$/m.exec(makefile)?.[1];
  if (tag !== recipe.pauseVersion)
    throw new Error(
      `build/pause/Makefile's TAG is ${tag ?? 'missing'}, the recipe says ${recipe.pauseVersion}`,
    );
  const pause = join(work, 'pause');
  await run(
    `build pause ${recipe.pauseVersion}`,
    gcc,
    [...recipe.pauseCflags, '-o', pause, join(moduleDir, 'build/pause/linux/pause.c')],
    work,
  );
  await run('strip pause', 'strip', [pause], work);

  const files: Manifest['files'] = [];
  const record = async (
    name: string,
    path: string,
    kind: 'binary' | 'image',
    roles: readonly KubeRole[],
    ref?: string,
  ) => {
    const abs = join(tmp, path);
    await chmod(abs, kind === 'binary' ? 0o755 : 0o644);
    files.push({
      name,
      path,
      sha256: sha256File(abs),
      size: statSync(abs).size,
      kind,
      ...(ref !== undefined ? { ref } : {}),
      roles: [...roles],
    });
  };
  for (const name of NODE_BINARIES) await record(name, `bin/${name}`, 'binary', ALL);
  await record('etcdctl', 'bin/etcdctl', 'binary', CONTROL_PLANE);

  const bin = (name: string, source = join(work, name)): ImageFile => ({
    path: `/usr/local/bin/${name}`,
    source,
    mode: 0o755,
  });
  const images: {
    name: string;
    ref: string;
    files: ImageFile[];
    entrypoint: string[];
    roles: readonly KubeRole[];
  }[] = [
    ...CONTROL_PLANE_IMAGES.map((name) => ({
      name,
      ref: `registry.k8s.io/${name}:${recipe.kubernetesVersion}`,
      files: [bin(name)],
      entrypoint: [`/usr/local/bin/${name}`],
      roles: CONTROL_PLANE,
    })),
    {
      name: 'etcd',
      ref: recipe.etcdImage,
      files: [bin('etcd'), bin('etcdctl', join(tmp, 'bin', 'etcdctl'))],
      entrypoint: ['/usr/local/bin/etcd'],
      roles: CONTROL_PLANE,
    },
    {
      name: 'pause',
      ref: recipe.pauseImage,
      files: [{ path: '/pause', source: pause, mode: 0o755 }],
      entrypoint: ['/pause'],
      roles: ALL,
    },
  ];
  for (const image of images) {
    const t = Date.now();
    const path = `images/${image.name}.tar`;
    await writeImageArchive({
      ref: image.ref,
      files: image.files,
      entrypoint: image.entrypoint,
      out: join(tmp, path),
    });
    await record(image.name, path, 'image', image.roles, image.ref);
    log(`image ${image.ref} (${seconds(t)})`);
  }
  await rm(work, { recursive: true, force: true });
  return {
    recipe: hash,
    kubernetesVersion: recipe.kubernetesVersion,
    etcdVersion: recipe.etcdVersion,
    etcdImage: recipe.etcdImage,
    pauseImage: recipe.pauseImage,
    go: goVersion,
    files,
  };
}
