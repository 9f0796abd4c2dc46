// Container images without a container engine: one layer of files in a `docker save` archive
// (manifest.json with RepoTags), which `ctr -n k8s.io images import` files under exactly its ref.
//
// Why docker-archive and not an OCI layout: containerd 1.6's importer names an OCI layout's images
// only from an io.containerd.image.name annotation or with --base-name, while manifest.json's
// RepoTags are normalised and used as they are; `docker load` and `podman load` read it too.
// Deterministic: entries sorted, mtimes, owners and the creation date fixed, so the same inputs give
// the same bytes, the same image ID and the same archive sha256.
import { createHash, type Hash } from 'node:crypto';
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, basename, join, posix } from 'node:path';
import { UserError } from '../errors.js';

export interface ImageFile {
  /** Absolute path inside the image, e.g. /usr/local/bin/etcd. */
  readonly path: string;
  /** File on this host whose bytes go there. */
  readonly source: string;
  /** Permission bits; 0o644 unless given (binaries need 0o755). */
  readonly mode?: number;
}

export interface ImageArchiveOptions {
  /** Fully qualified name and tag, e.g. registry.k8s.io/pause:3.10.1. */
  readonly ref: string;
  readonly files: readonly ImageFile[];
  readonly entrypoint: readonly string[];
  /** KEY=value pairs; PATH=/usr/local/bin:/usr/bin:/bin unless one sets PATH. */
  readonly env?: readonly string[];
  /** Archive to write (replaced atomically). */
  readonly out: string;
}

export interface ImageArchive {
  /** sha256 of the archive file. */
  readonly sha256: string;
  readonly size: number;
}

export const DEFAULT_PATH = 'PATH=/usr/local/bin:/usr/bin:/bin';
/** 1970-01-01: nothing in an image says when it was built, so a rebuild is byte-identical. */
const EPOCH = '1970-01-01T00:00:00Z';
const BLOCK = 512;
const CHUNK = 1024 * 1024;

/** Files every image gets unless the caller brings its own: users for tools that look them up, and /tmp. */
const BASE_FILES: readonly { path: string; content: string }[] = [
  { path: 'etc/group', content: 'root:x:0:\nnogroup:x:65534:\n' },
  {
    path: 'etc/passwd',
    content: 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n',
  },
];
const BASE_DIRS: readonly { path: string; mode: number }[] = [
  { path: 'etc', mode: 0o755 },
  { path: 'root', mode: 0o700 },
  { path: 'tmp', mode: 0o1777 },
];

type LayerEntry =
  | { readonly kind: 'dir'; readonly path: string; readonly mode: number }
  | { readonly kind: 'file'; readonly path: string; readonly mode: number; readonly content: Buffer }
  | {
      readonly kind: 'source';
      readonly path: string;
      readonly mode: number;
      readonly source: string;
      readonly size: number;
    };

/** The ref as containerd stores it: a registry host, a repository and a tag, nothing implied. */
export function checkRef(ref: string): void {
  const m = /^([a-z0-9.-]+(?::[0-9]+)?)\/([a-z0-9._/-]+):([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/.exec(ref);
  if (!m || !m[1]?.includes('.'))
    throw new UserError(
      `image ref ${JSON.stringify(ref)} is not fully qualified`,
      'write it as host/repository:tag, e.g. registry.k8s.io/pause:3.10.1',
    );
}

function imagePath(p: string): string {
  const rel = posix.normalize(p).replace(/^\/+/, '');
  if (!p.startsWith('/') || rel === '' || rel === '.' || rel.split('/').includes('..') || rel.endsWith('/'))
    throw new UserError(
      `image file path ${JSON.stringify(p)} must be an absolute file path inside the image`,
    );
  return rel;
}

/** Every entry of the layer, parents implied, sorted by path (a parent is a prefix, so it comes first). */
async function layerEntries(files: readonly ImageFile[]): Promise<LayerEntry[]> {
  const byPath = new Map<string, LayerEntry>();
  for (const f of files) {
    const path = imagePath(f.path);
    if (byPath.has(path)) throw new UserError(`image file ${f.path} is given twice`);
    const st = await stat(f.source).catch(() => undefined);
    if (!st?.isFile()) throw new UserError(`image file source ${f.source} (for ${f.path}) is not a file`);
    byPath.set(path, { kind: 'source', path, mode: f.mode ?? 0o644, source: f.source, size: st.size });
  }
  for (const b of BASE_FILES)
    if (!byPath.has(b.path))
      byPath.set(b.path, { kind: 'file', path: b.path, mode: 0o644, content: Buffer.from(b.content) });
  for (const d of BASE_DIRS) if (!byPath.has(d.path)) byPath.set(d.path, { kind: 'dir', ...d });
  for (const path of [...byPath.keys()]) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const existing = byPath.get(dir);
      if (existing && existing.kind !== 'dir')
        throw new UserError(`image path /${dir} is both a file and a folder`);
      if (!existing) byPath.set(dir, { kind: 'dir', path: dir, mode: 0o755 });
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** A ustar header (POSIX.1-1988): names up to 255 bytes through the prefix field, sizes up to 8 GiB. */
function tarHeader(name: string, opts: { mode: number; size: number; type: '0' | '5' }): Buffer {
  const h = Buffer.alloc(BLOCK);
  const bytes = Buffer.from(name);
  let prefix = '';
  let base = name;
  if (bytes.length > 100) {
    const cut = name.lastIndexOf('/', 155);
    prefix = cut > 0 ? name.slice(0, cut) : '';
    base = cut > 0 ? name.slice(cut + 1) : name;
    if (Buffer.byteLength(prefix) > 155 || Buffer.byteLength(base) > 100 || !prefix)
      throw new UserError(`image path /${name} is too long for a tar header`);
  }
  const octal = (value: number, width: number) => value.toString(8).padStart(width - 1, '0') + '\0';
  h.write(base, 0, 100);
  h.write(octal(opts.mode, 8), 100);
  h.write(octal(0, 8), 108); // uid
  h.write(octal(0, 8), 116); // gid
  h.write(octal(opts.size, 12), 124);
  h.write(octal(0, 12), 136); // mtime
  h.fill(' ', 148, 156); // checksum, counted as spaces
  h.write(opts.type, 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write('root', 265);
  h.write('root', 297);
  h.write(octal(0, 8), 329);
  h.write(octal(0, 8), 337);
  h.write(prefix, 345, 155);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  return h;
}

/** Appends tar entries to a file, hashing every byte written. */
class TarWriter {
  readonly hash: Hash = createHash('sha256');
  size = 0;
  constructor(private readonly fh: FileHandle) {}

  async write(buf: Buffer): Promise<void> {
    this.hash.update(buf);
    this.size += buf.length;
    let off = 0;
    while (off < buf.length) off += (await this.fh.write(buf, off, buf.length - off)).bytesWritten;
  }

  async dir(name: string, mode: number): Promise<void> {
    await this.write(tarHeader(`${name}/`, { mode, size: 0, type: '5' }));
  }

  async file(name: string, mode: number, content: Buffer): Promise<void> {
    await this.write(tarHeader(name, { mode, size: content.length, type: '0' }));
    await this.write(content);
    await this.pad(content.length);
  }

  /** Copies exactly `size` bytes of `source`; a file that changes size meanwhile is an error. */
  async copy(name: string, mode: number, source: string, size: number): Promise<void> {
    await this.write(tarHeader(name, { mode, size, type: '0' }));
    const src = await open(source, 'r');
    try {
      const buf = Buffer.alloc(CHUNK);
      let done = 0;
      while (done < size) {
        const { bytesRead } = await src.read(buf, 0, Math.min(CHUNK, size - done), done);
        if (bytesRead === 0) throw new UserError(`${source} shrank while it was being packed into an image`);
        await this.write(buf.subarray(0, bytesRead));
        done += bytesRead;
      }
      if ((await src.stat()).size !== size)
        throw new UserError(`${source} changed size while it was being packed into an image`);
    } finally {
      await src.close();
    }
    await this.pad(size);
  }

  async end(): Promise<void> {
    await this.write(Buffer.alloc(2 * BLOCK));
  }

  private async pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    if (rest) await this.write(Buffer.alloc(BLOCK - rest));
  }
}

async function writeTar(
  path: string,
  body: (tar: TarWriter) => Promise<void>,
): Promise<{ sha256: string; size: number }> {
  const fh = await open(path, 'w', 0o644);
  try {
    const tar = new TarWriter(fh);
    await body(tar);
    await tar.end();
    await fh.sync();
    return { sha256: tar.hash.digest('hex'), size: tar.size };
  } finally {
    await fh.close();
  }
}

function goArch(): string {
  const arch: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ppc64: 'ppc64le',
    s390x: 's390x',
  };
  return arch[process.arch] ?? process.arch;
}

/**
 * Writes a single-layer image archive for `ref`; the binaries in `files` must be built for this
 * host's architecture (the image says so). Returns the archive's sha256 and size.
 */
export async function writeImageArchive(opts: ImageArchiveOptions): Promise<ImageArchive> {
  checkRef(opts.ref);
  const entries = await layerEntries(opts.files);
  const env = opts.env?.some((e) => e.startsWith('PATH='))
    ? [...opts.env]
    : [DEFAULT_PATH, ...(opts.env ?? [])];
  const tmpBase = join(dirname(opts.out), `.${basename(opts.out)}.${process.pid}.${Date.now()}`);
  const layerTmp = `${tmpBase}.layer.tmp`;
  const archiveTmp = `${tmpBase}.tmp`;
  try {
    const layer = await writeTar(layerTmp, async (tar) => {
      for (const e of entries) {
        if (e.kind === 'dir') await tar.dir(e.path, e.mode);
        else if (e.kind === 'file') await tar.file(e.path, e.mode, e.content);
        else await tar.copy(e.path, e.mode, e.source, e.size);
      }
    });
    const config = Buffer.from(
      JSON.stringify({
        architecture: goArch(),
        os: 'linux',
        created: EPOCH,
        config: { Env: env, Entrypoint: [...opts.entrypoint], WorkingDir: '/' },
        rootfs: { type: 'layers', diff_ids: [`sha256:${layer.sha256}`] },
        history: [{ created: EPOCH, created_by: 'civostack writeImageArchive' }],
      }),
    );
    const configHex = createHash('sha256').update(config).digest('hex');
    const configName = `${configHex}.json`;
    const layerName = `${layer.sha256}/layer.tar`;
    const manifest = Buffer.from(
      JSON.stringify([{ Config: configName, RepoTags: [opts.ref], Layers: [layerName] }]),
    );
    // A fixed order: the config, the layer in its folder (docker save's v1.2 layout), manifest.json.
    const archive = await writeTar(archiveTmp, async (tar) => {
      await tar.file(configName, 0o644, config);
      await tar.dir(layer.sha256, 0o755);
      await tar.copy(layerName, 0o644, layerTmp, layer.size);
      await tar.file('manifest.json', 0o644, manifest);
    });
    await rename(archiveTmp, opts.out);
    return archive;
  } finally {
    await rm(layerTmp, { force: true });
    await rm(archiveTmp, { force: true });
  }
}
