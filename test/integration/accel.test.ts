// The lab's accelerator choice: the probe boots the installer's own kernel with a lab machine's flags
// and trusts KVM only when that kernel speaks on the serial console. Stand-in QEMU scripts give the
// three ways a host can answer (it boots, it aborts, it hangs); the real installer kernel under real
// QEMU (TCG) proves the probe recognises a kernel that booted.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildInstaller, DEFAULT_CACHE_DIR, type Installer } from '../../src/boot/installer.js';
import { chooseAccel, machineArgs, probeBoot } from '../../src/lab/accel.js';
import { tempDir } from '../helpers/manifest.js';

const CACHE = process.env.CIVOSTACK_CACHE_DIR ?? DEFAULT_CACHE_DIR;

/** A stand-in for qemu-system-x86_64 that records its arguments and behaves as `body` says. */
function fakeQemu(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho "$@" > ${path}.args\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('KVM probe', () => {
  const dir = tempDir();
  const kvm = join(dir, 'kvm');
  writeFileSync(kvm, '');
  const base = { kernel: '/k/vmlinuz', initrd: '/k/initrd.img', kvmDevice: kvm, boundMs: 3000 };

  it("boots the installer's kernel with exactly the flags a lab machine gets", async () => {
    const qemu = fakeQemu(dir, 'boots', 'echo "[    0.000000] Linux version 6.1.0-57-amd64"; sleep 30');
    const r = await probeBoot('uefi', 'kvm', { ...base, firmwares: ['uefi'], qemu });
    expect(r).toEqual({ ok: true, detail: 'the guest kernel booted' });
    const args = readFileSync(`${qemu}.args`, 'utf8');
    expect(args).toContain(machineArgs('uefi', 'kvm').join(' '));
    expect(args).toContain('-kernel /k/vmlinuz -initrd /k/initrd.img');
  });

  it("reports QEMU's own message when it aborts", async () => {
    const qemu = fakeQemu(
      dir,
      'aborts',
      'echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2; exit 134',
    );
    const r = await probeBoot('bios', 'kvm', { ...base, firmwares: ['bios'], qemu });
    expect(r.ok).toBe(false);
    expect(r.detail).toBe('qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69');
  });

  it('does not count a guest that stays silent, and stops it', async () => {
    const qemu = fakeQemu(dir, 'silent', 'echo $$ > ' + join(dir, 'silent.pid') + '; exec sleep 60');
    const r = await probeBoot('bios', 'kvm', { ...base, firmwares: ['bios'], qemu });
    expect(r).toEqual({ ok: false, detail: "the guest's kernel wrote nothing on the serial console in 3 s" });
    const pid = Number(readFileSync(join(dir, 'silent.pid'), 'utf8'));
    await new Promise((res) => setTimeout(res, 200));
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });

  it('chooses TCG when any machine type fails, names it, and keeps the verdict for this boot only', async () => {
    const cache = join(dir, 'cache-mixed');
    // Boots as pc, aborts as q35.
    const qemu = fakeQemu(
      dir,
      'mixed',
      'case "$*" in *q35*) echo "q35: kvm abort" >&2; exit 1;; esac; echo "Linux version 6.1"; sleep 30',
    );
    const o = { ...base, firmwares: ['bios', 'uefi'] as const, qemu };
    const first = await chooseAccel('auto', cache, o);
    expect(first).toMatchObject({ accel: 'tcg', cached: false });
    expect(first.reason).toContain("lab's q35 machine: q35: kvm abort");
    const second = await chooseAccel('auto', cache, o);
    expect(second).toMatchObject({ accel: 'tcg', cached: true, reason: first.reason });
    // A verdict from another boot of the host is not trusted.
    const file = join(cache, 'accel.json');
    const v = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...v, bootId: 'another-boot', accel: 'kvm' }));
    expect((await chooseAccel('auto', cache, o)).cached).toBe(false);
  });

  it('chooses KVM when every machine type boots, and honours --accel', async () => {
    const qemu = fakeQemu(dir, 'good', 'echo "Linux version 6.1"; sleep 30');
    const o = { ...base, firmwares: ['bios', 'uefi'] as const, qemu };
    expect(await chooseAccel('auto', join(dir, 'cache-good'), o)).toMatchObject({ accel: 'kvm' });
    expect(await chooseAccel('tcg', join(dir, 'cache-good'), o)).toMatchObject({ accel: 'tcg' });
    expect(
      await chooseAccel('kvm', join(dir, 'none'), { ...o, kvmDevice: join(dir, 'no-such-device') }),
    ).toMatchObject({ accel: 'tcg' });
    expect(
      await chooseAccel('auto', join(dir, 'none'), { ...o, kvmDevice: join(dir, 'no-such-device') }),
    ).toEqual({
      accel: 'tcg',
      reason: `${join(dir, 'no-such-device')} does not exist`,
      cached: false,
    });
  });
});

describe('KVM probe with the real installer kernel', () => {
  let installer: Installer;
  beforeAll(async () => {
    installer = await buildInstaller({ cacheDir: CACHE, log: () => {} });
  }, 10 * 60_000);

  it("recognises the installer's kernel speaking on the console (real QEMU, software emulation)", async () => {
    const o = {
      kernel: installer.kernel,
      initrd: installer.initrd,
      firmwares: ['bios'] as const,
      boundMs: 90_000,
    };
    const r = await probeBoot('bios', 'tcg', o);
    expect(r).toEqual({ ok: true, detail: 'the guest kernel booted' });
  }, 120_000);
});
