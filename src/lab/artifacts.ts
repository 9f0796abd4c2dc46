// The lab OS profile's artifacts: the installer (kernel + initramfs) and the lab OS image, built
// from Debian packages on first use and cached.
import { builtArtifacts, type BootArtifacts } from '../boot/index.js';
import { buildInstaller, DEFAULT_CACHE_DIR } from '../boot/installer.js';
import type { Plan } from '../plan/index.js';
import { buildLabImage } from './os-image.js';

export { DEFAULT_CACHE_DIR };

export async function labArtifacts(
  plan: Plan,
  cacheDir: string | undefined,
  log: (line: string) => void,
): Promise<BootArtifacts> {
  const dir = cacheDir ?? DEFAULT_CACHE_DIR;
  const installer = await buildInstaller({ cacheDir: dir, log });
  const image = await buildLabImage({ cacheDir: dir, log });
  return builtArtifacts(plan, {
    kernel: installer.kernel,
    initrd: installer.initrd,
    image: {
      path: image.path,
      sha256: image.sha256,
      format: image.format,
      size: image.size,
      rootPartition: image.rootPartition,
    },
  });
}
