// The pure parts of the boot artifact builds: module dependency closure, ldd parsing, disk layout.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { imageFormat } from '../../src/manifest/index.js';
import { moduleName, parseLdd, parseModulesDep, resolveModules } from '../../src/boot/installer.js';
import { grubConfig, moduleExcludes, sfdiskScript } from '../../src/lab/os-image.js';

const DEP = `kernel/fs/ext4/ext4.ko: kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko kernel/lib/crc16.ko
kernel/fs/mbcache.ko:
kernel/fs/jbd2/jbd2.ko:
kernel/lib/crc16.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/crypto/crc32c_generic.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
`;

describe('installer modules', () => {
  const deps = parseModulesDep(DEP);

  it('names modules the way the kernel does', () => {
    expect(moduleName('kernel/arch/x86/crypto/crc32c-intel.ko')).toBe('crc32c_intel');
    expect(moduleName('kernel/fs/ext4/ext4.ko.xz')).toBe('ext4');
  });

  it('ships each wanted module with everything it depends on, once', () => {
    const { files, missing } = resolveModules(deps, new Set(), [
      { name: 'ext4' },
      { name: 'virtio_net' },
      { name: 'crc32c-intel' },
    ]);
    expect(missing).toEqual([]);
    expect(files).toEqual(
      [
        'kernel/arch/x86/crypto/crc32c-intel.ko',
        'kernel/drivers/net/net_failover.ko',
        'kernel/drivers/net/virtio_net.ko',
        'kernel/fs/ext4/ext4.ko',
        'kernel/fs/jbd2/jbd2.ko',
        'kernel/fs/mbcache.ko',
        'kernel/lib/crc16.ko',
        'kernel/net/core/failover.ko',
      ].sort(),
    );
  });

  it('reports a missing required module, but not a built-in or an optional one', () => {
    const r = resolveModules(deps, new Set(['af_packet']), [
      { name: 'af_packet' },
      { name: 'mlx5_core', optional: true },
      { name: 'nvme' },
    ]);
    expect(r.missing).toEqual(['nvme']);
    expect(r.files).toEqual([]);
  });
});

describe('ldd output', () => {
  it('lists the libraries to copy, with the loader and without the vdso', () => {
    const out = `\tlinux-vdso.so.1 (0x00007ffd)
\tlibcrypto.so.3 => /lib/x86_64-linux-gnu/libcrypto.so.3 (0x00007f1b)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1a)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f1c)
`;
    expect(parseLdd(out)).toEqual([
      '/lib/x86_64-linux-gnu/libcrypto.so.3',
      '/lib/x86_64-linux-gnu/libc.so.6',
      '/lib64/ld-linux-x86-64.so.2',
    ]);
  });
});

describe('lab image layout', () => {
  it('is a GPT with BIOS boot, ESP and a root partition filling the disk', () => {
    const script = sfdiskScript([
      { name: 'bios', size: 1024 * 1024, type: 'BIOS' },
      { name: 'esp', size: 63 * 1024 * 1024, type: 'ESP' },
      { name: 'root', size: undefined, type: 'LINUX' },
    ]);
    expect(script).toBe(
      'label: gpt\nsize=1024KiB, type=BIOS, name=bios\nsize=64512KiB, type=ESP, name=esp\ntype=LINUX, name=root\n',
    );
  });

  it('boots the kernel symlinks by root UUID with a serial console', () => {
    const cfg = grubConfig('0b6c-uuid', 'ro console=ttyS0,115200n8', 1);
    expect(cfg).toContain('search --no-floppy --fs-uuid --set=root 0b6c-uuid');
    expect(cfg).toContain('linux /vmlinuz root=UUID=0b6c-uuid ro console=ttyS0,115200n8');
    expect(cfg).toContain('set timeout=1');
    expect(cfg).toContain('serial --unit=0 --speed=115200');
  });
});

describe('lab image module exclusions', () => {
  it('excludes a folder by its whole tree and a single module by its file name', () => {
    expect(moduleExcludes(['arch/x86/kvm', 'drivers/block/floppy.ko*']).split('\n')).toEqual([
      'path-exclude /lib/modules/*/kernel/arch/x86/kvm/*',
      'path-exclude /usr/lib/modules/*/kernel/arch/x86/kvm/*',
      'path-exclude /lib/modules/*/kernel/drivers/block/floppy.ko*',
      'path-exclude /usr/lib/modules/*/kernel/drivers/block/floppy.ko*',
    ]);
  });
});

describe('image formats', () => {
  it("reads a manifest image's format from its name, a URL's query aside", () => {
    expect(imageFormat('https://images.example.test/debian.raw.gz')).toBe('gz');
    expect(imageFormat('images/debian.raw.lzo')).toBe('lzo');
    expect(imageFormat('images/debian.raw.zst')).toBe('zst');
    expect(imageFormat('https://images.example.test/debian.raw.zstd?sig=1')).toBe('zst');
    expect(imageFormat('https://images.example.test/debian.raw.lzo?sig=abc.gz')).toBe('lzo');
    expect(imageFormat('https://images.example.test/debian.raw')).toBe('raw');
    expect(imageFormat('debian.img')).toBe('raw');
  });

  it('unpacks every format the boot server can name, and only those', () => {
    const init = readFileSync(new URL('../../pxe/installer/init', import.meta.url), 'utf8');
    const cases = [...init.matchAll(/^(\w+)\) DECOMPRESS=/gm)].map((m) => m[1]);
    expect(cases.sort()).toEqual(['gz', 'lzo', 'raw', 'zst']);
  });
});
