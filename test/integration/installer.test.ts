// The installer for real: Debian's kernel and our initramfs boot in QEMU (no PXE: -kernel/-initrd),
// reach a stand-in boot server on the host's loopback through QEMU user networking (10.0.2.2), and
// write the lab OS image onto a blank virtio disk. Builds the installer and the lab image on first
// run (needs root, apt and debootstrap; cached under DEFAULT_CACHE_DIR afterwards).
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInstaller, DEFAULT_CACHE_DIR, type Installer } from '../../src/boot/installer.js';
import { buildLabImage } from '../../src/lab/os-image.js';
import type { ImageFormat } from '../../src/manifest/index.js';
import { chooseAccel, machineArgs, type Accel } from '../../src/lab/accel.js';
import { tempDir } from '../helpers/manifest.js';

const QEMU = 'qemu-system-x86_64';
const NODE = 'r01-n01';
const MAC = '52:54:00:aa:00:01';
const CACHE = process.env.CIVOSTACK_CACHE_DIR ?? DEFAULT_CACHE_DIR;

interface Progress {
  state: string;
  percent: number;
  message: string;
}

/** What the installer sent to the stand-in boot server. */
interface Recorded {
  progress: Progress[];
  hostkeys: string[];
  /** Requests whose ?mac= was not the node's NIC. */
  wrongMac: string[];
  /** Requests whose install token was not the one on the kernel command line (the image's: any token). */
  wrongToken: string[];
}

/** The install token the node's script would carry on the installer's kernel command line. */
const TOKEN = '0123456789abcdef0123456789abcdef';

interface ImageOffer {
  path: string;
  sha256: string;
  format: ImageFormat;
  size: number;
  rootPartition: number;
}

const SEED = {
  'meta-data': `instance-id: ${NODE}\nlocal-hostname: ${NODE}\n`,
  'user-data': '#cloud-config\ndisable_root: false\n',
  'network-config': 'version: 2\nethernets: {}\n',
} as const;

/** Just enough of the boot server's API (src/boot/server.ts) for one node. */
function standInBootServer(image: () => ImageOffer, rec: Recorded): Server {
  const body = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
  return createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const base = `http://10.0.2.2:${(req.socket.address() as AddressInfo).port}`;
      if (url.searchParams.get('mac') !== MAC) rec.wrongMac.push(`${req.method} ${req.url}`);
      // The image URL may be another origin's: the token must not go there; everything else needs it.
      const token = req.headers['x-civostack-token'];
      if (url.pathname === '/images/image' ? token !== undefined : token !== TOKEN)
        rec.wrongToken.push(
          `${req.method} ${url.pathname} ${token === undefined ? 'without' : 'with'} a token`,
        );
      const node = `/nodes/${NODE}`;
      const offer = image();
      if (req.method === 'GET' && url.pathname === `${node}/install.env`) {
        res.end(
          [
            `NODE='${NODE}'`,
            `DISK='/dev/vda'`,
            `IMAGE_URL='${base}/images/image'`,
            `IMAGE_SHA256='${offer.sha256}'`,
            `IMAGE_FORMAT='${offer.format}'`,
            `IMAGE_SIZE='${offer.size}'`,
            `ROOT_PARTITION='${offer.rootPartition}'`,
            `SEED_URL='${base}${node}/seed'`,
            '',
          ].join('\n'),
        );
      } else if (req.method === 'GET' && url.pathname === '/images/image') {
        createReadStream(offer.path).pipe(res);
      } else if (req.method === 'GET' && url.pathname.startsWith(`${node}/seed/`)) {
        const file = url.pathname.slice(`${node}/seed/`.length) as keyof typeof SEED;
        if (SEED[file] === undefined) res.writeHead(404).end();
        else res.end(SEED[file]);
      } else if (req.method === 'POST' && url.pathname === `${node}/progress`) {
        const form = new URLSearchParams(await body(req));
        const p = {
          state: form.get('state') ?? '',
          percent: Number(form.get('percent')),
          message: form.get('message') ?? '',
        };
        rec.progress.push(p);
        console.log(`progress (${process.uptime().toFixed(1)} s): ${p.state} ${p.percent}% ${p.message}`);
        res.end('ok\n');
      } else if (req.method === 'POST' && url.pathname === `${node}/hostkeys`) {
        rec.hostkeys.push(await body(req));
        res.end('ok\n');
      } else {
        res.writeHead(404).end();
      }
    })();
  });
}

/** Boots the installer on a blank disk; the VM exits when the installer reboots (-no-reboot). */
const VM_OPTIONS = { reject: false, stdin: 'ignore' } as const;
type Vm = ResultPromise<typeof VM_OPTIONS>;

function bootInstaller(installer: Installer, accel: Accel, port: number, disk: string, serial: string): Vm {
  const cmdline = [
    `civostack.node=${NODE}`,
    `civostack.url=http://10.0.2.2:${port}`,
    `civostack.token=${TOKEN}`,
    'civostack.disk=/dev/vda',
    'console=ttyS0,115200n8',
    'panic=10',
    `BOOTIF=01-${MAC.replace(/:/g, '-')}`,
  ].join(' ');
  return execa(
    QEMU,
    [
      ...machineArgs('uefi', accel),
      ...['-m', '768', '-smp', '2'],
      ...['-nodefaults', '-display', 'none', '-no-reboot', '-serial', `file:${serial}`],
      ...['-kernel', installer.kernel, '-initrd', installer.initrd, '-append', cmdline],
      ...['-drive', `file=${disk},format=raw,if=virtio,cache=unsafe`],
      ...['-netdev', 'user,id=n0', '-device', `virtio-net-pci,netdev=n0,mac=${MAC}`],
      ...['-device', 'virtio-rng-pci'],
    ],
    VM_OPTIONS,
  );
}

/** A file of an ext4 partition inside a raw disk, read with debugfs (no loop device, no mount). */
async function readFromPartition(disk: string, partition: number, path: string): Promise<string> {
  const table = JSON.parse((await execa('sfdisk', ['--json', disk])).stdout) as {
    partitiontable: { sectorsize?: number; partitions: { node: string; start: number }[] };
  };
  const part = table.partitiontable.partitions[partition - 1];
  if (!part) throw new Error(`${disk} has no partition ${partition}`);
  const offset = part.start * (table.partitiontable.sectorsize ?? 512);
  // Exact bytes: the seed files are compared whole, trailing newline included.
  const r = await execa('debugfs', ['-R', `cat ${path}`, `${disk}?offset=${offset}`], {
    reject: false,
    stripFinalNewline: false,
  });
  if (r.exitCode !== 0 || /File not found/.test(r.stderr))
    throw new Error(`debugfs cat ${path}: ${r.stderr}`);
  return r.stdout;
}

const serialTail = (file: string) =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-40).join('\n') : '(no serial log)';

async function until(what: string, cond: () => boolean, timeoutMs: number, vm?: Vm): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void vm?.finally(() => (exited = true));
  while (!cond()) {
    if (exited) throw new Error(`QEMU exited while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('installer (QEMU, direct kernel boot)', () => {
  const dir = tempDir('civostack-installer-');
  let installer: Installer;
  let accel: Accel;
  let offer: ImageOffer;
  let server: Server;
  let port: number;
  const rec: Recorded = { progress: [], hostkeys: [], wrongMac: [], wrongToken: [] };

  beforeAll(async () => {
    const qemu = await execa(QEMU, ['--version'], { reject: false });
    if (qemu.failed) {
      throw new Error(
        `${QEMU} is required for this test (apt-get install qemu-system-x86 qemu-utils): ${qemu.message}`,
      );
    }
    const t0 = Date.now();
    installer = await buildInstaller({ cacheDir: CACHE, log: (l) => console.log(l) });
    console.log(`installer ready in ${(Date.now() - t0) / 1000} s`);
    accel = (
      await chooseAccel('auto', CACHE, {
        kernel: installer.kernel,
        initrd: installer.initrd,
        firmwares: ['uefi'],
      })
    ).accel;
    server = standInBootServer(() => offer, rec);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  }, 10 * 60_000);

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'writes the lab OS image, host keys and seed, reports progress, and reboots',
    async () => {
      const t0 = Date.now();
      const image = await buildLabImage({ cacheDir: CACHE, log: (l) => console.log(l) });
      console.log(`lab image ready in ${(Date.now() - t0) / 1000} s`);
      offer = {
        path: image.path,
        sha256: image.sha256,
        format: image.format,
        size: image.size,
        rootPartition: image.rootPartition,
      };
      rec.progress = [];
      rec.hostkeys = [];
      const disk = join(dir, 'node.raw');
      const serial = join(dir, 'ok.serial.log');
      await execa('truncate', ['-s', '4G', disk]);

      const started = Date.now();
      const vm = bootInstaller(installer, accel, port, disk, serial);
      const result = await Promise.race([
        vm,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('installer did not finish in 14 min')), 14 * 60_000),
        ),
      ]).catch((err: unknown) => {
        vm.kill('SIGKILL');
        throw new Error(`${String(err)}\n--- serial ---\n${serialTail(serial)}`);
      });
      console.log(
        `installer (${accel}): boot to installed + reboot in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      expect(result.exitCode, serialTail(serial)).toBe(0);

      const states = rec.progress.map((p) => p.state);
      expect(states[0], serialTail(serial)).toBe('installing');
      expect(rec.progress[0]?.percent).toBe(0);
      expect(states.at(-1), serialTail(serial)).toBe('installed');
      expect(rec.progress.at(-1)?.percent).toBe(100);
      expect(states).not.toContain('failed');
      const percents = rec.progress.map((p) => p.percent);
      expect(percents).toEqual([...percents].sort((a, b) => a - b));
      expect(rec.wrongMac).toEqual([]);
      expect(rec.wrongToken).toEqual([]);

      expect(rec.hostkeys).toHaveLength(1);
      const keys = rec.hostkeys[0]!.trim().split('\n');
      const ed25519 = keys.find((k) => k.startsWith('ssh-ed25519 '));
      expect(ed25519).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/]+=* root@r01-n01$/);
      for (const k of keys) expect(k).toMatch(/^(ssh-ed25519|ecdsa-sha2-nistp256) AAAA[A-Za-z0-9+/]+=* \S+$/);

      const { stdout: table } = await execa('sfdisk', ['-d', disk]);
      expect(table).toMatch(/label: gpt/);
      expect(table.match(/^\S+ : start=/gm)).toHaveLength(3);
      const root = image.rootPartition;
      expect((await readFromPartition(disk, root, '/etc/ssh/ssh_host_ed25519_key.pub')).trim()).toBe(ed25519);
      for (const [name, content] of Object.entries(SEED)) {
        expect(await readFromPartition(disk, root, `/var/lib/cloud/seed/nocloud/${name}`)).toBe(content);
      }
      // /etc/os-release is a symlink, which debugfs cat does not follow.
      expect(await readFromPartition(disk, root, '/usr/lib/os-release')).toMatch(/VERSION_CODENAME=bookworm/);
      expect(await readFromPartition(disk, root, '/etc/cloud/cloud.cfg.d/90-civostack.cfg')).toMatch(
        /datasource_list: \[ NoCloud, None \]/,
      );
    },
    45 * 60_000,
  );

  it('stops with state=failed and does not reboot when the image checksum does not match', async () => {
    // A small valid gzip stream is enough: the checksum is only known once it has all been written.
    const payload = gzipSync(randomBytes(4 * 1024 * 1024));
    const path = join(dir, 'small.gz');
    await writeFile(path, payload);
    const real = createHash('sha256').update(payload).digest('hex');
    offer = { path, sha256: 'f'.repeat(64), format: 'gz', size: 4 * 1024 * 1024, rootPartition: 3 };
    rec.progress = [];
    rec.hostkeys = [];
    const disk = join(dir, 'bad.raw');
    const serial = join(dir, 'bad.serial.log');
    await execa('truncate', ['-s', '1G', disk]);

    const vm = bootInstaller(installer, accel, port, disk, serial);
    try {
      await until('state=failed', () => rec.progress.some((p) => p.state === 'failed'), 180_000, vm).catch(
        (err: unknown) => {
          throw new Error(`${String(err)}\n--- serial ---\n${serialTail(serial)}`);
        },
      );
      const failed = rec.progress.find((p) => p.state === 'failed')!;
      expect(failed.message).toContain('checksum');
      expect(failed.message).toContain(`expected ${'f'.repeat(64)}, got ${real}`);
      // It must stay down: -no-reboot would make QEMU exit on a reboot.
      await new Promise((r) => setTimeout(r, 8000));
      expect(vm.exitCode, serialTail(serial)).toBeNull();
      expect(rec.progress.map((p) => p.state)).not.toContain('installed');
      expect(rec.hostkeys).toEqual([]);
    } finally {
      vm.kill('SIGKILL');
      await vm;
    }
  }, 240_000);
});
