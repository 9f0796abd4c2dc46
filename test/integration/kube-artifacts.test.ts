// Kubernetes built from its Go module, and its images imported by a real containerd (Debian's 1.6,
// as on the nodes) started by this test with its own root, state and socket. Containers are never
// run: runc cannot start them on this host's kernel, and importing is what kubeadm needs.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeImageArchive } from '../../src/kube/oci.js';
import { tempDir } from '../helpers/manifest.js';

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
});
