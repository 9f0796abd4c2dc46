// The lab's OS image: Debian 12 from debootstrap on a GPT raw disk that boots under SeaBIOS and
// OVMF, zstd-compressed for the installer to stream onto a node's disk (README "Boot artifacts").
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { cachedArtifact, inCache, recipeKey } from '../boot/artifact-cache.js';

export interface LabImage {
  readonly path: string;
  /** sha256 of the compressed file, as the boot server serves it. */
  readonly sha256: string;
  readonly format: 'zst';
  /** Uncompressed bytes, for the installer's progress. */
  readonly size: number;
  readonly rootPartition: number;
}

export interface BuildLabImageOptions {
  readonly cacheDir: string;
  readonly log?: (line: string) => void;
  /** Debian mirror; the one in the host's apt sources by default. */
  readonly mirror?: string;
}

const MiB = 1024 * 1024;
const SUITE = 'bookworm';
const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
const SECURITY_MIRROR = 'http://deb.debian.org/debian-security';

/** Everything that decides the image's content; hashed into the cache key. Bump `version` for code changes. */
const RECIPE = {
  version: 8,
  suite: SUITE,
  // How the installer gets it (see build's compression step).
  compression: 'zst' as const,
  // zstd's level and window (see build's compression step).
  zstdArgs: ['-9', '--long=27'],
  // What the installer writes, zeros included: small, and grown to the node's disk on first boot
  // (cloud-init growpart + resizefs), so a node's root still fills its disk.
  diskBytes: 1536 * MiB,
  // GPT: BIOS boot (grub i386-pc core.img), EFI system partition, ext4 root.
  partitions: [
    { name: 'bios', size: 1 * MiB, type: '21686148-6449-6E6F-744E-656564454649' },
    { name: 'esp', size: 63 * MiB, type: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B' },
    { name: 'root', size: undefined, type: '0FC63DAF-8483-4772-8E79-3D69D8477DE4' },
  ],
  rootPartition: 3,
  espPartition: 2,
  // minbase has no init: systemd-sysv and udev come first, the rest through apt (which honours nodoc).
  debootstrapInclude: ['systemd-sysv', 'udev', 'ca-certificates'],
  packages: [
    'linux-image-amd64',
    'grub-pc-bin',
    'grub-efi-amd64-bin',
    'grub2-common',
    'openssh-server',
    'cloud-init',
    // growpart, and sgdisk for it: it moves GPT's backup header to the end of the bigger disk.
    'cloud-guest-utils',
    'gdisk',
    'ifupdown',
    'ifenslave',
    'vlan',
    'net-tools',
    'iproute2',
    'iputils-ping',
    'procps',
    'less',
    // The kubeadm distribution's node runtime (kubeadm, kubelet and the control-plane images are
    // staged by civostack): containerd with runc, the CNI plugins (/usr/lib/cni), what kubelet and
    // kubeadm's preflight look for, and keepalived for the API VIP (disabled until configured).
    'containerd',
    'runc',
    'containernetworking-plugins',
    'conntrack',
    'iptables',
    'ethtool',
    'socat',
    'kmod',
    'keepalived',
  ],
  /**
   * Kernel module trees a lab machine (virtio disks and NICs) never loads: a third of the image's
   * bytes, excluded from dpkg's unpacking. Everything Kubernetes needs (netfilter, overlay, bridge, veth, vxlan) stays.
   */
  unusedModules: [
    'sound',
    'drivers/gpu',
    'drivers/media',
    'drivers/net/wireless',
    'drivers/infiniband',
    'drivers/staging',
    'drivers/bluetooth',
    'drivers/iio',
    'drivers/isdn',
    'drivers/input/touchscreen',
    'drivers/comedi',
    'net/wireless',
    'net/mac80211',
    'net/bluetooth',
    // A lab machine is QEMU's: virtio disk and NIC, serial console, no USB, SCSI, SATA or RAID, and
    // the filesystems are ext4 and vfat. What is left out here is also left out of the initramfs
    // (MODULES=most), which the kernel unpacks and udev works through on every boot.
    'drivers/net/ethernet',
    'drivers/net/usb',
    'drivers/net/wwan',
    'drivers/net/can',
    'drivers/net/ieee802154',
    'drivers/net/hamradio',
    'drivers/usb',
    'drivers/hid',
    'drivers/scsi',
    'drivers/ata',
    'drivers/target',
    'drivers/md',
    'drivers/mtd',
    'drivers/mmc',
    'drivers/hwmon',
    'drivers/platform',
    'drivers/video',
    'fs/btrfs',
    'fs/xfs',
    'fs/ocfs2',
    'fs/f2fs',
    'fs/smb',
    'fs/nfs',
    'fs/nfsd',
    'net/sunrpc',
    // What udev found on QEMU's machine and loaded at every boot, none of it used by a lab node,
    // each a module load (relocations, symbols) under emulation on the way to cloud-init: KVM (the
    // emulated CPU advertises SVM), the floppy controller's probe, the PS/2 mouse, the PC speaker,
    // cpufreq and the PIIX4 SMBus.
    'arch/x86/kvm',
    'drivers/block/floppy.ko*',
    'drivers/input/mouse',
    'drivers/input/misc',
    'drivers/input/serio/serio_raw.ko*',
    'drivers/cpufreq',
    'drivers/i2c/busses',
  ],
  /**
   * Units of a stock Debian boot a lab node never needs, each a program started beside cloud-init
   * on the one emulated CPU: binfmt_misc, e2scrub's leftover-snapshot cleanup (no LVM), and the
   * modules systemd loads by name for device-mapper, EFI pstore, FUSE and loop devices.
   */
  maskedUnits: [
    'systemd-binfmt.service',
    'proc-sys-fs-binfmt_misc.automount',
    'e2scrub_reap.service',
    'modprobe@dm_mod.service',
    'modprobe@efi_pstore.service',
    'modprobe@fuse.service',
    'modprobe@loop.service',
  ],
  /**
   * systemd generators (each a program run before any unit starts, on every boot) for what a lab
   * node has none of: encrypted, integrity or verity volumes, hibernation, offline updates, GPT
   * auto-mounts (its fstab names every mount). Masked as systemd documents: a link to /dev/null in
   * /etc/systemd/system-generators.
   */
  maskedGenerators: [
    'systemd-cryptsetup-generator',
    'systemd-integritysetup-generator',
    'systemd-veritysetup-generator',
    'systemd-hibernate-resume-generator',
    'systemd-system-update-generator',
    'systemd-gpt-auto-generator',
  ],
  kernelCmdline: 'ro console=tty0 console=ttyS0,115200n8',
  // No menu wait: nobody is at a lab machine's console to pick an entry.
  grubTimeout: 0,
} as const;

/** sfdisk script for the recipe's partition table. */
export function sfdiskScript(
  partitions: readonly { name: string; size: number | undefined; type: string }[],
): string {
  const lines = partitions.map(
    (p) => `${p.size !== undefined ? `size=${p.size / 1024}KiB, ` : ''}type=${p.type}, name=${p.name}`,
  );
  return ['label: gpt', ...lines, ''].join('\n');
}

/**
 * A static grub.cfg through the /vmlinuz and /initrd.img symlinks Debian keeps current, so a kernel
 * upgrade on the node needs no grub-mkconfig (which cannot probe a loop device's UUIDs without udev).
 */
export function grubConfig(rootUuid: string, cmdline: string, timeout: number): string {
  return `# civostack lab image: written at build time, follows /vmlinuz and /initrd.img.
set default=0
set timeout=${timeout}
serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1
terminal_input console serial
terminal_output console serial
insmod part_gpt
insmod ext2
search --no-floppy --fs-uuid --set=root ${rootUuid}
menuentry 'Debian GNU/Linux 12 (civostack lab)' {
  linux /vmlinuz root=UUID=${rootUuid} ${cmdline}
  initrd /initrd.img
}
`;
}

/**
 * cloud-init: only the NoCloud seed the installer writes (no network datasource probing), and the
 * installer's host keys are kept: they are the ones posted to the boot server for known_hosts.
 * Every module a civostack seed needs runs in the network stage (the one sshd waits for), the
 * config stage is masked (see build) and the final stage only writes boot-finished: each stage is
 * a Python start, 20-35 s of a first boot under software emulation with three machines on two cores.
 */
const CLOUD_CFG = `# civostack: the installer writes the seed and the SSH host keys.
datasource_list: [ NoCloud, None ]
ssh_deletekeys: false
ssh_genkeytypes: []
# Only the modules a civostack seed uses, all in the network stage: each one costs a first boot
# seconds, and each stage a Python start. set_passwords is left out: sshd_config already says what
# ssh_pwauth: false would, and its sshd restart raced the first SSH login. No scripts modules: the
# seeds carry no scripts.
cloud_init_modules: [ growpart, resizefs, write_files, set_hostname, update_hostname, update_etc_hosts, users_groups, ssh, timezone ]
cloud_config_modules: []
cloud_final_modules: [ final_message ]
# Plain text: the default message is a Jinja template, and importing Jinja is seconds under emulation.
final_message: "civostack: cloud-init finished its first boot"
`;

/** What the seeds' \`ssh_pwauth: false\` asks for, baked into the image (set_passwords does not run). */
const SSHD_CONFIG = `# civostack: keys only (the seeds' ssh_pwauth: false).
PasswordAuthentication no
KbdInteractiveAuthentication no
`;

const NODOC = `# civostack: keep the image small.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
`;

/** dpkg path-exclude rules for kernel module folders (their whole tree) or module files (`*.ko*`). */
export function moduleExcludes(paths: readonly string[]): string {
  return paths
    .map((d) => (d.includes('.ko') ? d : `${d}/*`))
    .flatMap((d) => [
      `path-exclude /lib/modules/*/kernel/${d}`,
      `path-exclude /usr/lib/modules/*/kernel/${d}`,
    ])
    .join('\n');
}

/** dpkg never unpacks the module trees the lab does not load: they neither fill the disk nor the initramfs. */
const NOMODULES = moduleExcludes(RECIPE.unusedModules);

const APT_CONF = `APT::Install-Recommends "false";
APT::Install-Suggests "false";
`;

const sources = (mirror: string) => `Types: deb
URIs: ${mirror}
Suites: ${SUITE} ${SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${SECURITY_MIRROR}
Suites: ${SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

/** Builds (or reuses) the lab OS image under `<cacheDir>/lab-image-<key>/`. Needs root. */
export async function buildLabImage(opts: BuildLabImageOptions): Promise<LabImage> {
  const log = opts.log ?? (() => {});
  const mirror = opts.mirror ?? DEFAULT_MIRROR;
  const key = recipeKey({
    RECIPE,
    mirror,
    CLOUD_CFG,
    SSHD_CONFIG,
    NODOC,
    NOMODULES,
    grub: grubConfig('UUID', RECIPE.kernelCmdline, RECIPE.grubTimeout),
  });
  const entry = await cachedArtifact({
    root: opts.cacheDir,
    name: 'lab-image',
    key,
    build: (tmp) => build(tmp, opts.cacheDir, mirror, log),
  });
  if (!entry.built) log(`lab OS image: reusing ${entry.dir}`);
  const meta = entry.meta;
  return { ...meta, path: inCache(entry, meta.path) };
}

type Cleanup = () => Promise<unknown>;

async function build(
  tmp: string,
  cacheDir: string,
  mirror: string,
  log: (line: string) => void,
): Promise<LabImage> {
  const started = Date.now();
  // Checked before the long build, not after it.
  const zstd = await execa('zstd', ['--version'], { reject: false });
  if (zstd.exitCode !== 0)
    throw new Error('lab OS image: zstd is needed to compress the image (apt-get install zstd)');
  const raw = join(tmp, 'lab-os.raw');
  const mnt = join(tmp, 'mnt');
  const cleanups: Cleanup[] = [];
  const run = async (cmd: string, args: readonly string[], input?: string) => {
    const r = await execa(cmd, args, { ...(input !== undefined ? { input } : {}), all: true, reject: false });
    if (r.exitCode !== 0)
      throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.exitCode}):\n${tail(r.all ?? '')}`);
    return r.stdout;
  };
  const chroot = (args: readonly string[]) =>
    execa('chroot', [mnt, ...args], {
      env: { DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C.UTF-8', PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      extendEnv: false,
      all: true,
      reject: false,
    }).then((r) => {
      if (r.exitCode !== 0)
        throw new Error(`chroot ${args.join(' ')} failed (exit ${r.exitCode}):\n${tail(r.all ?? '')}`);
      return r.stdout;
    });
  const mount = async (args: readonly string[], target: string) => {
    await mkdir(target, { recursive: true });
    await run('mount', [...args, target]);
    cleanups.push(() => execa('umount', ['-l', target], { reject: false }));
  };

  let debootstrapMs = 0;
  try {
    await execa('truncate', ['-s', String(RECIPE.diskBytes), raw]);
    await run('sfdisk', ['--quiet', raw], sfdiskScript(RECIPE.partitions));
    const loop = (await run('losetup', ['--find', '--show', '--partscan', raw])).trim();
    cleanups.push(() => execa('losetup', ['-d', loop], { reject: false }));
    const rootDev = await partitionDevice(loop, RECIPE.rootPartition);
    const espDev = await partitionDevice(loop, RECIPE.espPartition);
    const rootUuid = randomUUID();
    await run('mkfs.vfat', ['-F', '32', '-n', 'EFI', espDev]);
    await run('mkfs.ext4', ['-q', '-L', 'root', '-U', rootUuid, rootDev]);
    const espUuid = (await run('blkid', ['-s', 'UUID', '-o', 'value', espDev])).trim();

    await mount([rootDev], mnt);
    // Packages are downloaded to the cache, not the image: deleted files would still fill the raw
    // disk (and the gzip) where fstrim cannot punch holes, and rebuilds reuse the downloads.
    const archives = join(cacheDir, 'apt-archives');
    await mkdir(join(archives, 'partial'), { recursive: true });
    await mount(['--bind', archives], join(mnt, 'var/cache/apt/archives'));

    log(`lab OS image: debootstrap ${SUITE} (minbase) from ${mirror}`);
    const t0 = Date.now();
    await run('debootstrap', [
      '--variant=minbase',
      `--include=${RECIPE.debootstrapInclude.join(',')}`,
      SUITE,
      mnt,
      mirror,
    ]);
    debootstrapMs = Date.now() - t0;
    log(`lab OS image: debootstrap took ${(debootstrapMs / 1000).toFixed(0)} s`);

    await writeFile(join(mnt, 'etc/dpkg/dpkg.cfg.d/01-civostack-nodoc'), NODOC);
    await writeFile(join(mnt, 'etc/dpkg/dpkg.cfg.d/02-civostack-nomodules'), `${NOMODULES}\n`);
    await writeFile(join(mnt, 'etc/apt/apt.conf.d/01-civostack'), APT_CONF);
    await rm(join(mnt, 'etc/apt/sources.list'), { force: true });
    await writeFile(join(mnt, 'etc/apt/sources.list.d/debian.sources'), sources(mirror));
    // No daemon may start inside the build chroot.
    await writeFile(join(mnt, 'usr/sbin/policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    await writeFile(
      join(mnt, 'etc/fstab'),
      `UUID=${rootUuid} / ext4 errors=remount-ro 0 1\nUUID=${espUuid} /boot/efi vfat umask=0077,nofail 0 2\n`,
    );
    await writeFile(join(mnt, 'etc/hostname'), 'localhost\n');
    await mkdir(join(mnt, 'etc/cloud/cloud.cfg.d'), { recursive: true });
    await writeFile(join(mnt, 'etc/cloud/cloud.cfg.d/90-civostack.cfg'), CLOUD_CFG);

    await mkdir(join(mnt, 'boot/efi'), { recursive: true });
    await mount(['--bind', '/dev'], join(mnt, 'dev'));
    await mount(['-t', 'devpts', 'devpts'], join(mnt, 'dev/pts'));
    await mount(['-t', 'proc', 'proc'], join(mnt, 'proc'));
    await mount(['-t', 'sysfs', 'sysfs'], join(mnt, 'sys'));
    // mkinitramfs works in /var/tmp: on the small root it would not fit beside the kernel's modules.
    await mount(['-t', 'tmpfs', '-o', 'size=1g', 'tmpfs'], join(mnt, 'var/tmp'));

    log(`lab OS image: installing ${RECIPE.packages.join(' ')}`);
    await chroot(['apt-get', 'update', '-qq']);
    await chroot(['apt-get', 'install', '-y', '-qq', ...RECIPE.packages]);
    await chroot(['apt-get', 'upgrade', '-y', '-qq']);

    await mkdir(join(mnt, 'etc/ssh/sshd_config.d'), { recursive: true });
    await writeFile(join(mnt, 'etc/ssh/sshd_config.d/50-civostack.conf'), SSHD_CONFIG);
    // keepalived starts only once civostack has written its configuration (the kubeadm phases), and
    // containerd once the Kubernetes stage has (it enables it): at first boot it would only take
    // CPU from cloud-init, on the way to the SSH login everything after waits for.
    await chroot(['systemctl', 'disable', 'keepalived.service', 'containerd.service']);
    // The config stage has no modules (CLOUD_CFG): masked, it is not a Python start on every boot.
    await chroot(['systemctl', 'mask', 'cloud-config.service', ...RECIPE.maskedUnits]);
    await mkdir(join(mnt, 'etc/systemd/system-generators'), { recursive: true });
    for (const g of RECIPE.maskedGenerators)
      await symlink('/dev/null', join(mnt, 'etc/systemd/system-generators', g));
    // cloud-init imports jsonschema in every stage (cloudinit.config.schema, from its main) to check
    // the seed it was given: 2.6 s of each stage under emulation. civostack's seeds are checked with
    // this cloud-init's own schema before they are served (test/integration/render.test.ts), and
    // without jsonschema cloud-init skips the check (a debug line), so the image goes without it.
    await chroot(['sh', '-c', 'rm -rf /usr/lib/python3/dist-packages/jsonschema']);
    // ifupdown runs every hook in /etc/network/if-*.d for each interface it brings up (two NICs, the
    // bond, the VLAN): ethtool's act on ethtool-* options, which cloud-init never writes, and
    // systemd-resolved's on a resolver the image does not have. Deleted (dpkg keeps them deleted on
    // upgrades), they are no longer forks on the first boot's way to SSH.
    await chroot([
      'rm',
      '-f',
      ...['if-pre-up.d/ethtool', 'if-up.d/ethtool', 'if-up.d/resolved', 'if-down.d/resolved'].map(
        (f) => `/etc/network/${f}`,
      ),
    ]);
    await kernelSymlinks(mnt);
    await mkdir(join(mnt, 'boot/grub'), { recursive: true });
    await writeFile(
      join(mnt, 'boot/grub/grub.cfg'),
      grubConfig(rootUuid, RECIPE.kernelCmdline, RECIPE.grubTimeout),
    );
    log('lab OS image: grub for i386-pc (grub-install) and x86_64-efi (\\EFI\\BOOT\\BOOTX64.EFI)');
    await chroot(['grub-install', '--target=i386-pc', '--boot-directory=/boot', loop]);
    await efiBootloader(mnt, espDev, rootUuid, chroot);
    await scrub(mnt, chroot);
    await rm(join(mnt, 'usr/sbin/policy-rc.d'), { force: true });
    // Deleted files' blocks become holes in the raw file: smaller and faster to compress.
    await execa('fstrim', [mnt], { reject: false });
  } finally {
    for (const c of cleanups.reverse()) await c();
  }

  log('lab OS image: compressing (zstd)');
  const file = `lab-os.raw.${RECIPE.compression}`;
  const packed = join(tmp, file);
  // zstd: measured on one emulated vCPU streaming this image, a third fewer bytes than lzop (272
  // against 387 MB) to fetch, split and hash, and unpacked as fast (23 against 25 s): with several
  // nodes sharing the host's cores, the install is that CPU. (gzip unpacks four times slower.)
  // -9 with a 128 MiB window (--long=27, which the installer's zstd -d --long=31 accepts): 197 MiB
  // against -3's 262 and -15's 233, packed in 19 s on two cores, unpacked as fast.
  // A node's zstd needs the window's 128 MiB of memory while it unpacks.
  await run('zstd', ['-q', ...RECIPE.zstdArgs, '-T0', '-o', packed, raw]);
  const size = (await stat(raw)).size;
  await rm(raw);
  const sha256 = await sha256File(packed);
  const packedBytes = (await stat(packed)).size;
  log(
    `lab OS image: ${(packedBytes / MiB).toFixed(0)} MiB compressed, debootstrap ${(debootstrapMs / 1000).toFixed(0)} s, ` +
      `total ${((Date.now() - started) / 1000).toFixed(0)} s`,
  );
  return { path: file, sha256, format: RECIPE.compression, size, rootPartition: RECIPE.rootPartition };
}

/**
 * The device node of a loop partition. Without udev (containers, CI) the kernel may not have
 * created it yet, so ask it again with partx and, as a last resort, create the node from sysfs.
 */
async function partitionDevice(loop: string, n: number): Promise<string> {
  const dev = `${loop}p${n}`;
  const sys = `/sys/block/${loop.replace('/dev/', '')}/${loop.replace('/dev/', '')}p${n}/dev`;
  for (let i = 0; i < 20 && !existsSync(dev); i++) {
    if (i === 5) await execa('partx', ['-a', loop], { reject: false });
    if (i === 10 && existsSync(sys)) {
      const [major, minor] = readFileSync(sys, 'utf8').trim().split(':');
      await execa('mknod', [dev, 'b', major ?? '', minor ?? ''], { reject: false });
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!existsSync(dev)) throw new Error(`partition ${n} of ${loop} did not appear (${dev})`);
  return dev;
}

/**
 * What `grub-install --target=x86_64-efi --removable` does, without mounting the ESP: grub-install
 * insists on a mounted FAT efi-directory, and build hosts (containers, microVM kernels) often lack
 * vfat. So: grub-mkimage with an early config finding the root by UUID, modules on the root, and
 * mtools to write \EFI\BOOT\BOOTX64.EFI into the FAT filesystem.
 */
async function efiBootloader(
  mnt: string,
  espDev: string,
  rootUuid: string,
  chroot: (args: readonly string[]) => Promise<string>,
): Promise<void> {
  await writeFile(
    join(mnt, 'tmp/early.cfg'),
    `search --no-floppy --fs-uuid --set=root ${rootUuid}\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n`,
  );
  await chroot([
    'sh',
    '-c',
    'mkdir -p /boot/grub/x86_64-efi && cp /usr/lib/grub/x86_64-efi/*.mod /usr/lib/grub/x86_64-efi/*.lst /boot/grub/x86_64-efi/',
  ]);
  await chroot([
    'grub-mkimage',
    '--format=x86_64-efi',
    '--directory=/usr/lib/grub/x86_64-efi',
    '--prefix=/boot/grub',
    '--config=/tmp/early.cfg',
    '--output=/tmp/BOOTX64.EFI',
    ...['part_gpt', 'part_msdos', 'ext2', 'fat', 'search', 'search_fs_uuid', 'configfile', 'normal', 'linux'],
    ...['serial', 'terminal', 'efi_gop', 'all_video', 'gzio', 'echo', 'test'],
  ]);
  const mtools = async (cmd: string, args: readonly string[]) => {
    const r = await execa(cmd, ['-i', espDev, ...args], {
      all: true,
      reject: false,
      env: { MTOOLS_SKIP_CHECK: '1' },
    });
    if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.all ?? ''}`);
  };
  await mtools('mmd', ['::/EFI', '::/EFI/BOOT']);
  await mtools('mcopy', [join(mnt, 'tmp/BOOTX64.EFI'), '::/EFI/BOOT/BOOTX64.EFI']);
}

/** /vmlinuz and /initrd.img, which grub.cfg boots; created by linux-base unless configured otherwise. */
async function kernelSymlinks(mnt: string): Promise<void> {
  const boot = await readdir(join(mnt, 'boot'));
  const latest = (prefix: string) =>
    boot
      .filter((f) => f.startsWith(prefix))
      .sort()
      .at(-1);
  for (const [link, prefix] of [
    ['vmlinuz', 'vmlinuz-'],
    ['initrd.img', 'initrd.img-'],
  ] as const) {
    if (existsSync(join(mnt, link))) continue;
    const target = latest(prefix);
    if (!target) throw new Error(`no /boot/${prefix}* in the image`);
    await execa('ln', ['-sf', `boot/${target}`, join(mnt, link)]);
  }
}

/** Leaves nothing host- or build-specific behind: host keys, machine id, caches, logs. */
async function scrub(mnt: string, chroot: (args: readonly string[]) => Promise<string>): Promise<void> {
  await chroot(['sh', '-c', 'rm -f /etc/ssh/ssh_host_*']);
  await chroot([
    'sh',
    '-c',
    [
      'rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old /var/lib/dpkg/*-old',
      'find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete',
      // debootstrap unpacked its packages before the nodoc rule existed.
      'find /usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +',
      'rm -rf /usr/share/man/* /usr/share/info/* /var/log/*.log /var/log/apt/* /tmp/* /var/tmp/*',
      'rm -rf /var/lib/cloud/*',
      ': > /etc/machine-id; rm -f /var/lib/dbus/machine-id',
    ].join('; '),
  ]);
  await writeFile(join(mnt, 'etc/resolv.conf'), '');
}

function tail(text: string, lines = 30): string {
  return text.split('\n').slice(-lines).join('\n');
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
