// Kubernetes built from its Go module, and its images imported by a real containerd (Debian's 1.6,
// as on the nodes) started by this test with its own root, state and socket. Containers are never
// run: runc cannot start them on this host's kernel, and importing is what kubeadm needs.
// The artifacts come from the cache .ci/setup filled (`civostack kube artifacts`); without it the
// first test builds them, which takes many minutes.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_CACHE_DIR,
  ensureKubeArtifacts,
  loadKubeArtifacts,
  writeImageArchive,
  type KubeArtifacts,
} from '../../src/kube/index.js';
import { UserError } from '../../src/errors.js';
import { tempDir } from '../helpers/manifest.js';

const CACHE = process.env.CIVOSTACK_CACHE_DIR ?? DEFAULT_CACHE_DIR;
/** A cold build (no cache, no Go build cache) on two cores. */
const BUILD_TIMEOUT = 60 * 60_000;
const KUBERNETES = 'v1.35.4';
const ETCD = '3.6.16';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** containerd on a private socket; `ctr` against it. */
interface Containerd {
  readonly ctr: (...args: string[]) => Promise<string>;
  readonly stop: () => Promise<void>;
}

async function startContainerd(dir: string): Promise<Containerd> {
  const address = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  // The CRI plugin stays off: it wants CNI and a kubelet; import and the overlayfs snapshotter are all we use.
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${address}"`,
      '[ttrpc]',
      `  address = "${address}.ttrpc"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${dir}/opt"`,
      '',
    ].join('\n'),
  );
  const proc = execa(
    'containerd',
    ['--config', config, '--root', join(dir, 'root'), '--state', join(dir, 'state'), '--address', address],
    { stdio: ['ignore', 'ignore', 'pipe'], reject: false },
  );
  let log = '';
  proc.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  const ctr = async (...args: string[]) => (await execa('ctr', ['--address', address, ...args])).stdout;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await ctr('version');
      break;
    } catch (err) {
      if (Date.now() > deadline || proc.exitCode !== null)
        throw new Error(`containerd did not start: ${(err as Error).message}\n${log.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    ctr,
    stop: async () => {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await proc;
      clearTimeout(timer);
    },
  };
}

describe('writeImageArchive', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir('civostack-oci-');
    writeFileSync(join(dir, 'tool'), '#!/bin/sh\necho tool\n');
    writeFileSync(join(dir, 'conf'), 'key: value\n');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const image = (out: string, conf = 'conf') => ({
    ref: 'registry.example.org/civostack/tool:1.0',
    files: [
      { path: '/usr/local/bin/tool', source: join(dir, 'tool'), mode: 0o755 },
      { path: '/etc/tool/conf.yaml', source: join(dir, conf) },
    ],
    entrypoint: ['/usr/local/bin/tool'],
    env: ['TOOL_MODE=test'],
    out: join(dir, out),
  });

  it('writes the same bytes for the same inputs, and other bytes for other inputs', async () => {
    const a = await writeImageArchive(image('a.tar'));
    await new Promise((r) => setTimeout(r, 1100)); // a clock in the output would show by now
    const b = await writeImageArchive(image('b.tar'));
    expect(b).toEqual(a);
    expect(sha256(join(dir, 'a.tar'))).toBe(a.sha256);
    expect(statSync(join(dir, 'a.tar')).size).toBe(a.size);
    expect(readFileSync(join(dir, 'b.tar')).equals(readFileSync(join(dir, 'a.tar')))).toBe(true);

    writeFileSync(join(dir, 'conf2'), 'key: other\n');
    const c = await writeImageArchive(image('c.tar', 'conf2'));
    expect(c.sha256).not.toBe(a.sha256);
  });

  it('lays out a docker save archive whose layer holds the files, /etc/passwd, /etc/group and /tmp', async () => {
    await writeImageArchive(image('d.tar'));
    const out = join(dir, 'd.tar');
    const manifest = JSON.parse((await execa('tar', ['-xOf', out, 'manifest.json'])).stdout) as {
      Config: string;
      RepoTags: string[];
      Layers: string[];
    }[];
    expect(manifest).toHaveLength(1);
    expect(manifest[0]?.RepoTags).toEqual(['registry.example.org/civostack/tool:1.0']);
    const config = JSON.parse((await execa('tar', ['-xOf', out, manifest[0]?.Config ?? ''])).stdout) as {
      config: { Env: string[]; Entrypoint: string[] };
    };
    expect(config.config.Env).toEqual(['PATH=/usr/local/bin:/usr/bin:/bin', 'TOOL_MODE=test']);
    expect(config.config.Entrypoint).toEqual(['/usr/local/bin/tool']);
    const layer = join(dir, 'layer.tar');
    await execa('sh', ['-c', `tar -xOf "$1" "$2" > "$3"`, 'sh', out, manifest[0]?.Layers[0] ?? '', layer]);
    const listing = (await execa('tar', ['-tvf', layer])).stdout.split('\n');
    const entry = (name: string) => listing.find((l) => l.endsWith(` ${name}`));
    expect(entry('tmp/')).toMatch(/^drwxrwxrwt root\/root/);
    expect(entry('usr/local/bin/tool')).toMatch(/^-rwxr-xr-x root\/root .* 1970-01-01 00:00 /);
    expect(entry('etc/tool/conf.yaml')).toMatch(/^-rw-r--r-- /);
    expect((await execa('tar', ['-xOf', layer, 'etc/passwd'])).stdout).toMatch(/^root:x:0:0:/);
    expect((await execa('tar', ['-xOf', layer, 'etc/group'])).stdout).toMatch(/^root:x:0:/);
    expect((await execa('tar', ['-xOf', layer, 'usr/local/bin/tool'])).stdout).toBe('#!/bin/sh\necho tool');
  });

  it('refuses a ref that containerd would complete with a default registry', async () => {
    await expect(writeImageArchive({ ...image('e.tar'), ref: 'tool:1.0' })).rejects.toThrow(
      /not fully qualified/,
    );
    expect(existsSync(join(dir, 'e.tar'))).toBe(false);
  });
});

describe('images in containerd', () => {
  let dir: string;
  let containerd: Containerd | undefined;
  beforeAll(async () => {
    dir = tempDir('civostack-containerd-');
    containerd = await startContainerd(dir);
  });
  afterAll(async () => {
    await containerd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('imports an archive under exactly its ref, unpacked with the files in place', async () => {
    const ctr = containerd!.ctr;
    writeFileSync(join(dir, 'hello'), 'hello\n');
    const ref = 'registry.example.org/civostack/hello:0.1';
    const out = join(dir, 'hello.tar');
    await writeImageArchive({
      ref,
      files: [{ path: '/usr/local/bin/hello', source: join(dir, 'hello'), mode: 0o755 }],
      entrypoint: ['hello'],
      out,
    });
    await ctr('-n', 'k8s.io', 'images', 'import', out);
    expect((await ctr('-n', 'k8s.io', 'images', 'ls', '-q')).split('\n')).toEqual([ref]);
    expect(await ctr('-n', 'k8s.io', 'images', 'check')).toMatch(/complete \(2\/2\).*true/);
    const mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    await ctr('-n', 'k8s.io', 'images', 'mount', ref, mnt);
    try {
      expect(readFileSync(join(mnt, 'usr/local/bin/hello'), 'utf8')).toBe('hello\n');
      expect(statSync(join(mnt, 'tmp')).mode & 0o7777).toBe(0o1777);
    } finally {
      await ctr('-n', 'k8s.io', 'images', 'unmount', '--rm', mnt);
    }
  });

  it(
    'imports every Kubernetes image under its ref, each binary on PATH reporting its version',
    async () => {
      const ctr = containerd!.ctr;
      const a = await kube();
      const images = a.files.filter((f) => f.kind === 'image');
      for (const f of images) await ctr('-n', 'k8s.io', 'images', 'import', f.path);
      const refs = (await ctr('-n', 'k8s.io', 'images', 'ls', '-q')).split('\n');
      for (const f of images) expect(refs).toContain(f.ref);

      // The binaries as containerd unpacked them, run on the host (runc cannot start containers here).
      const versions: Record<string, [string, string[], RegExp]> = {
        'kube-apiserver': ['usr/local/bin/kube-apiserver', ['--version'], /^Kubernetes v1\.35\.4$/],
        'kube-controller-manager': [
          'usr/local/bin/kube-controller-manager',
          ['--version'],
          /^Kubernetes v1\.35\.4$/,
        ],
        'kube-scheduler': ['usr/local/bin/kube-scheduler', ['--version'], /^Kubernetes v1\.35\.4$/],
        etcd: ['usr/local/bin/etcd', ['--version'], new RegExp(`^etcd Version: ${ETCD}$`, 'm')],
        pause: ['pause', ['-v'], /^pause\.c v3\.10\.1-v1\.35\.4$/],
      };
      for (const f of images) {
        const [bin, args, expected] = versions[f.name] ?? ['', [], /^$/];
        const mnt = join(dir, `mnt-${f.name}`);
        mkdirSync(mnt);
        await ctr('-n', 'k8s.io', 'images', 'mount', f.ref ?? '', mnt);
        try {
          const r = await execa(join(mnt, bin), args, { reject: false });
          expect(`${r.stdout}${r.stderr}`.trim(), f.name).toMatch(expected);
          if (f.name === 'etcd') expect(existsSync(join(mnt, 'usr/local/bin/etcdctl'))).toBe(true);
        } finally {
          await ctr('-n', 'k8s.io', 'images', 'unmount', '--rm', mnt);
        }
      }
    },
    BUILD_TIMEOUT,
  );
});

describe('loadKubeArtifacts', () => {
  let copy: string;
  beforeAll(async () => {
    const a = await kube();
    copy = tempDir('civostack-airgap-');
    mkdirSync(join(copy, 'bin'));
    mkdirSync(join(copy, 'images'));
    copyFileSync(join(a.dir, 'artifacts.json'), join(copy, 'artifacts.json'));
    // Hard links for the files left alone (never written); a real copy for the one to damage.
    for (const f of a.files) {
      const to = join(copy, f.path.slice(a.dir.length + 1));
      if (f.name === 'kubectl') copyFileSync(f.path, to);
      else linkSync(f.path, to);
    }
  }, BUILD_TIMEOUT);
  afterAll(() => rm(copy, { recursive: true, force: true }));

  it('reads a copied folder, every file checked', () => {
    const a = loadKubeArtifacts(copy);
    expect(a.dir).toBe(copy);
    expect(a.files.map((f) => f.path)).toContain(join(copy, 'bin/kubectl'));
  });

  it('names every truncated or missing file in one error', async () => {
    truncateSync(join(copy, 'bin/kubectl'), 1000);
    await rm(join(copy, 'images/pause.tar'));
    let err: unknown;
    try {
      loadKubeArtifacts(copy);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    const message = (err as UserError).message;
    expect(message).toMatch(/^2 of 9 Kubernetes artifacts in .* are missing or damaged/);
    expect(message).toMatch(/kubectl \(.*bin\/kubectl\): 1000 bytes, expected \d+/);
    expect(message).toMatch(/pause \(.*images\/pause\.tar\): missing/);
    expect(message).not.toMatch(/kubeadm|kubelet|etcdctl/);
  });

  it('says so when the folder holds no artifacts list', async () => {
    const empty = tempDir('civostack-empty-');
    expect(() => loadKubeArtifacts(empty)).toThrow(/not a Kubernetes artifacts folder/);
    await rm(empty, { recursive: true });
  });
});

/** The artifacts for every test below: built once (or found in the cache) for the whole file. */
let artifacts: Promise<KubeArtifacts> | undefined;
const kube = (): Promise<KubeArtifacts> => (artifacts ??= ensureKubeArtifacts({ cacheDir: CACHE }));
const file = (a: KubeArtifacts, name: string) => {
  const f = a.files.find((x) => x.name === name);
  if (!f) throw new Error(`no ${name} in ${a.dir}`);
  return f;
};

describe('ensureKubeArtifacts', () => {
  it(
    'gives kubeadm, kubelet, kubectl and etcdctl reporting their versions, and the control plane images',
    async () => {
      const a = await kube();
      expect(a.kubernetesVersion).toBe(KUBERNETES);
      expect(a.etcdVersion).toBe(ETCD);
      expect(a.etcdImage).toBe(`registry.k8s.io/etcd:${ETCD}-0`);
      expect(a.pauseImage).toBe('registry.k8s.io/pause:3.10.1');
      expect(a.dir).toMatch(new RegExp(`^${CACHE}/kubernetes-[0-9a-f]{16}$`));
      expect(a.files.map((f) => [f.name, f.kind, f.roles.join(','), f.ref ?? ''])).toEqual([
        ['kubeadm', 'binary', 'control-plane,worker', ''],
        ['kubelet', 'binary', 'control-plane,worker', ''],
        ['kubectl', 'binary', 'control-plane,worker', ''],
        ['etcdctl', 'binary', 'control-plane', ''],
        ['kube-apiserver', 'image', 'control-plane', `registry.k8s.io/kube-apiserver:${KUBERNETES}`],
        [
          'kube-controller-manager',
          'image',
          'control-plane',
          `registry.k8s.io/kube-controller-manager:${KUBERNETES}`,
        ],
        ['kube-scheduler', 'image', 'control-plane', `registry.k8s.io/kube-scheduler:${KUBERNETES}`],
        ['etcd', 'image', 'control-plane', `registry.k8s.io/etcd:${ETCD}-0`],
        ['pause', 'image', 'control-plane,worker', 'registry.k8s.io/pause:3.10.1'],
      ]);
      for (const f of a.files) expect(statSync(f.path).size, f.name).toBe(f.size);

      const run = async (name: string, ...args: string[]) => (await execa(file(a, name).path, args)).stdout;
      expect(await run('kubeadm', 'version', '-o', 'short')).toBe(KUBERNETES);
      expect(await run('kubelet', '--version')).toBe(`Kubernetes ${KUBERNETES}`);
      const kubectl = JSON.parse(await run('kubectl', 'version', '--client', '-o', 'json')) as {
        clientVersion: { gitVersion: string; major: string; minor: string };
      };
      expect(kubectl.clientVersion).toMatchObject({ gitVersion: KUBERNETES, major: '1', minor: '35' });
      expect(await run('etcdctl', 'version')).toMatch(new RegExp(`^etcdctl version: ${ETCD}$`, 'm'));
      // CGO_ENABLED=0: nothing for a node's libc to get wrong.
      const ldd = await execa('ldd', [file(a, 'kubelet').path], { reject: false });
      expect(`${ldd.stdout}${ldd.stderr}`).toMatch(/not a dynamic executable|statically linked/);
    },
    BUILD_TIMEOUT,
  );

  it(
    'finds a warm cache in under two seconds, every file there at its size',
    async () => {
      const a = await kube();
      const lines: string[] = [];
      const t = Date.now();
      const again = await ensureKubeArtifacts({ cacheDir: CACHE, log: (l) => lines.push(l) });
      const ms = Date.now() - t;
      expect(again).toEqual(a);
      expect(lines).toEqual([expect.stringMatching(/^kubernetes v1\.35\.4: cached in .* \(\d+\.\d s\)$/)]);
      expect(ms).toBeLessThan(2000);
    },
    BUILD_TIMEOUT,
  );
});
