// The in-memory installer the boot server hands to nodes: Debian's kernel and an initramfs of
// busybox, the drivers a server's disks and NICs need, ssh-keygen, coreutils' tee, zstd and
// pxe/installer/init.
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { cachedArtifact, inCache, recipeKey } from './artifact-cache.js';

/** Where callers keep built artifacts unless told otherwise. */
export const DEFAULT_CACHE_DIR = '/var/cache/civostack';

const INSTALLER_DIR = fileURLToPath(new URL('../../pxe/installer/', import.meta.url));

export interface Installer {
  readonly kernel: string;
  readonly initrd: string;
  readonly kernelVersion: string;
}

export interface BuildInstallerOptions {
  readonly cacheDir: string;
  readonly log?: (line: string) => void;
}

/**
 * Drivers the installer loads (with their modules.dep dependencies). NICs and disk controllers of
 * common servers and of QEMU; `optional` ones may be missing from a kernel build.
 */
export const INSTALLER_MODULES: readonly { readonly name: string; readonly optional?: boolean }[] = [
  ...['virtio_pci', 'virtio_net', 'virtio_blk', 'virtio_scsi', 'virtio_rng'].map((name) => ({ name })),
  ...['e1000', 'e1000e', 'igb', 'ixgbe', 'i40e', 'ice'].map((name) => ({ name })),
  { name: 'mlx5_core', optional: true },
  ...['nvme', 'ahci', 'sd_mod', 'ext4', 'crc32c_generic'].map((name) => ({ name })),
  { name: 'crc32c_intel', optional: true },
];

/** Bump when the build steps below change in a way the other inputs of the key do not show. */
const RECIPE_VERSION = 3;

/** modules.dep as a map from a module's path to the paths it needs. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const rest = line.slice(colon + 1).trim();
    deps.set(line.slice(0, colon).trim(), rest ? rest.split(/\s+/) : []);
  }
  return deps;
}

/** Module name as the kernel spells it: file name without .ko[.xz|.zst], dashes as underscores. */
export const moduleName = (path: string): string =>
  (path.split('/').at(-1) ?? path).replace(/\.ko(\.[a-z]+)?$/, '').replace(/-/g, '_');

/**
 * The module files to ship for `wanted`: each one and everything it depends on. Names the kernel
 * has built in need nothing; a missing required module is an error, a missing optional one is not.
 */
export function resolveModules(
  deps: ReadonlyMap<string, readonly string[]>,
  builtin: ReadonlySet<string>,
  wanted: readonly { readonly name: string; readonly optional?: boolean }[],
): { files: string[]; missing: string[] } {
  const byName = new Map([...deps.keys()].map((p) => [moduleName(p), p]));
  const files = new Set<string>();
  const missing: string[] = [];
  const add = (path: string) => {
    if (files.has(path)) return;
    files.add(path);
    for (const d of deps.get(path) ?? []) add(d);
  };
  for (const m of wanted) {
    const path = byName.get(m.name.replace(/-/g, '_'));
    if (path) add(path);
    else if (!builtin.has(m.name.replace(/-/g, '_')) && !m.optional) missing.push(m.name);
  }
  return { files: [...files].sort(), missing };
}

/** `ldd` output to the absolute paths of the libraries a binary loads (vdso excluded). */
export function parseLdd(text: string): string[] {
  const libs: string[] = [];
  for (const line of text.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

/** Builds (or reuses) the installer under `<cacheDir>/installer-<key>/`. Needs root (device nodes). */
export async function buildInstaller(opts: BuildInstallerOptions): Promise<Installer> {
  const log = opts.log ?? (() => {});
  const kernelPackage = await kernelPackageName();
  const packages = {
    [kernelPackage]: await candidateVersion(kernelPackage),
    'busybox-static': await candidateVersion('busybox-static'),
    'openssh-client': await installedVersion('openssh-client'),
    coreutils: await installedVersion('coreutils'),
    zstd: await installedVersion('zstd'),
  };
  const init = await readFile(join(INSTALLER_DIR, 'init'), 'utf8');
  const udhcpc = await readFile(join(INSTALLER_DIR, 'udhcpc.script'), 'utf8');
  const key = recipeKey({ RECIPE_VERSION, packages, modules: INSTALLER_MODULES, init, udhcpc });
  const entry = await cachedArtifact({
    root: opts.cacheDir,
    name: 'installer',
    key,
    build: (tmp) => build(tmp, { cacheDir: opts.cacheDir, kernelPackage, packages, init, udhcpc, log }),
  });
  if (!entry.built) log(`installer: reusing ${entry.dir}`);
  return {
    kernel: inCache(entry, entry.meta.kernel),
    initrd: inCache(entry, entry.meta.initrd),
    kernelVersion: entry.meta.kernelVersion,
  };
}

interface BuildInputs {
  readonly cacheDir: string;
  readonly kernelPackage: string;
  readonly packages: Readonly<Record<string, string>>;
  readonly init: string;
  readonly udhcpc: string;
  readonly log: (line: string) => void;
}

async function build(tmp: string, inputs: BuildInputs): Promise<Installer> {
  const { log } = inputs;
  const started = Date.now();
  const kernelVersion = inputs.kernelPackage.replace(/^linux-image-/, '');
  const debs = join(inputs.cacheDir, 'debs');

  log(
    `installer: ${inputs.kernelPackage} ${inputs.packages[inputs.kernelPackage]} and busybox-static from apt`,
  );
  const kernelRoot = join(tmp, 'kernel-pkg');
  await extractDeb(
    await downloadDeb(debs, inputs.kernelPackage, inputs.packages[inputs.kernelPackage]!),
    kernelRoot,
  );
  const busyboxRoot = join(tmp, 'busybox-pkg');
  await extractDeb(
    await downloadDeb(debs, 'busybox-static', inputs.packages['busybox-static']!),
    busyboxRoot,
  );
  await copyFile(join(kernelRoot, `boot/vmlinuz-${kernelVersion}`), join(tmp, 'vmlinuz'));

  const root = join(tmp, 'root');
  for (const d of [
    'bin',
    'sbin',
    'usr/bin',
    'usr/sbin',
    'etc',
    'dev',
    'proc',
    'sys',
    'tmp',
    'run',
    'mnt',
    'root',
  ]) {
    await mkdir(join(root, d), { recursive: true });
  }

  // Kernel modules: the package ships no modules.dep (its postinst runs depmod), so make one.
  const modDir = `lib/modules/${kernelVersion}`;
  await run('depmod', ['-b', kernelRoot, kernelVersion]);
  const deps = parseModulesDep(await readFile(join(kernelRoot, modDir, 'modules.dep'), 'utf8'));
  const builtin = new Set(
    (await readFile(join(kernelRoot, modDir, 'modules.builtin'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map(moduleName),
  );
  const { files, missing } = resolveModules(deps, builtin, INSTALLER_MODULES);
  if (missing.length > 0)
    throw new Error(`installer: modules not in ${inputs.kernelPackage}: ${missing.join(', ')}`);
  for (const f of files) {
    await mkdir(dirname(join(root, modDir, f)), { recursive: true });
    await copyFile(join(kernelRoot, modDir, f), join(root, modDir, f));
  }
  for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) {
    await copyFile(join(kernelRoot, modDir, f), join(root, modDir, f));
  }
  await run('depmod', ['-b', root, kernelVersion]);
  log(`installer: ${files.length} kernel modules`);

  // busybox and its applets.
  await copyFile(join(busyboxRoot, 'bin/busybox'), join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  const applets = (await run(join(root, 'bin/busybox'), ['--list-full'])).split('\n').filter(Boolean);
  for (const a of applets) {
    if (a === 'bin/busybox' || existsSync(join(root, a))) continue;
    await mkdir(dirname(join(root, a)), { recursive: true });
    await symlink('/bin/busybox', join(root, a));
  }

  // ssh-keygen from openssh-client, coreutils' tee as /usr/bin/gtee and zstd (busybox has no
  // zstd), with the libraries ldd says they load, at the same paths. busybox's tee moves data 1 KiB
  // at a time: under software emulation, splitting the image stream between the checksum and the
  // disk with it took four times as long as with coreutils' (measured: 42 s against 10 s for 69 MB
  // on one vCPU).
  for (const [from, to] of [
    ['/usr/bin/ssh-keygen', 'usr/bin/ssh-keygen'],
    ['/usr/bin/tee', 'usr/bin/gtee'],
    ['/usr/bin/zstd', 'usr/bin/zstd'],
  ] as const) {
    await copyFile(from, join(root, to));
    for (const lib of parseLdd(await run('ldd', [from]))) {
      await mkdir(dirname(join(root, lib)), { recursive: true });
      await copyFile(lib, join(root, lib)); // follows symlinks: the file the loader would open
    }
  }

  await writeFile(join(root, 'init'), inputs.init, { mode: 0o755 });
  await writeFile(join(root, 'etc/udhcpc.script'), inputs.udhcpc, { mode: 0o755 });
  // ssh-keygen refuses to run for a uid without a passwd entry.
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(root, 'etc/group'), 'root:x:0:\n');
  await writeFile(join(root, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
  await writeFile(join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
  // The kernel opens /dev/console for /init before /init can mount devtmpfs.
  await run('mknod', ['-m', '600', join(root, 'dev/console'), 'c', '5', '1']);
  await run('mknod', ['-m', '666', join(root, 'dev/null'), 'c', '1', '3']);

  await run(
    'sh',
    [
      '-c',
      'find . -print0 | LC_ALL=C sort -z | cpio --quiet --null -o -H newc --reproducible -R 0:0 | gzip -6 -n > ../initrd.img',
    ],
    root,
  );
  const mib = (await readFile(join(tmp, 'initrd.img'))).length / 1024 / 1024;
  log(`installer: initramfs ${mib.toFixed(1)} MiB built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  for (const d of [kernelRoot, busyboxRoot, root]) await run('rm', ['-rf', d]);
  return { kernel: 'vmlinuz', initrd: 'initrd.img', kernelVersion };
}

async function run(cmd: string, args: readonly string[], cwd?: string): Promise<string> {
  const r = await execa(cmd, args, { ...(cwd ? { cwd } : {}), all: true, reject: false });
  if (r.exitCode !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed (exit ${r.exitCode ?? r.signal}): ${(r.all ?? '').slice(-2000)}`,
    );
  }
  return r.stdout;
}

/** The versioned kernel package the `linux-image-amd64` metapackage currently points to. */
async function kernelPackageName(): Promise<string> {
  const out = await run('apt-cache', ['depends', '--important', 'linux-image-amd64']).catch(() => '');
  const m = /Depends:\s*(linux-image-\d\S*)/.exec(out);
  if (!m?.[1]) throw new Error('installer: apt knows no linux-image-amd64 (run apt-get update)');
  return m[1];
}

async function candidateVersion(pkg: string): Promise<string> {
  const m = /Candidate:\s*(\S+)/.exec(await run('apt-cache', ['policy', pkg]));
  if (!m?.[1] || m[1] === '(none)')
    throw new Error(`installer: apt has no candidate for ${pkg} (run apt-get update)`);
  return m[1];
}

async function installedVersion(pkg: string): Promise<string> {
  const r = await execa('dpkg-query', ['-W', '-f=${Version}', pkg], { reject: false });
  if (r.exitCode !== 0 || !r.stdout)
    throw new Error(`installer: ${pkg} is not installed (apt-get install ${pkg})`);
  return r.stdout;
}

/** apt-get download into `dir`, once per version: the file name is `name_version_arch.deb`. */
async function downloadDeb(dir: string, pkg: string, version: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const prefix = `${pkg}_${version.replace(/:/g, '%3a')}_`;
  const find = async () => (await readdir(dir)).find((f) => f.startsWith(prefix) && f.endsWith('.deb'));
  let file = await find();
  if (!file) {
    await run('apt-get', ['download', '-q', `${pkg}=${version}`], dir);
    file = await find();
  }
  if (!file)
    throw new Error(`installer: apt-get download ${pkg}=${version} left no ${prefix}*.deb in ${dir}`);
  const path = join(dir, file);
  // A truncated download from an earlier crash would otherwise poison the cache.
  await run('dpkg-deb', ['--info', path]).catch(async (err: unknown) => {
    await run('rm', ['-f', path]);
    throw err;
  });
  return path;
}

async function extractDeb(deb: string, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await run('dpkg-deb', ['-x', deb, dir]);
}
