// What the boot server hands to installers: kernel, initrd and OS image, from the manifest's OS
// profile. The lab profile builds them (installer.ts, lab/os-image.ts); a custom profile names them.
import { resolve, basename } from 'node:path';
import type { Plan } from '../plan/index.js';
import { imageFormat, type ImageFormat } from '../manifest/index.js';
import type { BootArtifacts } from './server.js';

const isUrl = (s: string) => /^https?:\/\//.test(s);

export interface BuiltArtifacts {
  readonly kernel: string;
  readonly initrd: string;
  readonly image: {
    readonly path: string;
    readonly sha256: string;
    readonly format: ImageFormat;
    readonly size: number;
    readonly rootPartition: number;
  };
}

/** Artifacts of a custom OS profile: local paths are served by us, URLs are fetched from their origin. */
export function customArtifacts(plan: Plan, manifestDir: string): BootArtifacts {
  const { installer, image } = plan.os;
  const local = (p: string | undefined) =>
    p !== undefined && !isUrl(p) ? resolve(manifestDir, p) : undefined;
  const kernel = local(installer?.kernel);
  const initrd = local(installer?.initrd);
  const imagePath = local(image?.source);
  return {
    ...(kernel ? { kernel } : {}),
    ...(initrd ? { initrd } : {}),
    ...(image
      ? {
          image: {
            ...(imagePath ? { path: imagePath } : {}),
            url: imagePath ? `${plan.bootstrap.url}/images/${basename(imagePath)}` : image.source,
            sha256: image.sha256,
            format: imageFormat(image.source),
            size: 0,
            rootPartition: image.rootPartition,
          },
        }
      : {}),
  };
}

/** Artifacts the lab built: everything is served by the boot server. */
export function builtArtifacts(plan: Plan, built: BuiltArtifacts): BootArtifacts {
  return {
    kernel: built.kernel,
    initrd: built.initrd,
    image: {
      path: built.image.path,
      url: `${plan.bootstrap.url}/images/${basename(built.image.path)}`,
      sha256: built.image.sha256,
      format: built.image.format,
      size: built.image.size,
      rootPartition: built.image.rootPartition,
    },
  };
}
