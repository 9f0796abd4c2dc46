// The operator's image: src/operator built by the real Go toolchain to one static binary and packed
// as a docker-save archive under localhost/civostack-operator:<VERSION>, cached by its sources.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureOperatorImage } from '../../src/kube/operator-image.js';
import { tempDir } from '../helpers/manifest.js';

const VERSION = readFileSync(new URL('../../src/operator/VERSION', import.meta.url), 'utf8').trim();
/** Compiling controller-runtime and client-go with a cold Go build cache on two cores. */
const BUILD_TIMEOUT = 20 * 60_000;

describe('ensureOperatorImage', () => {
  const cacheDir = tempDir('civostack-operator-image-');
  const lines: string[] = [];
  afterAll(() => rm(cacheDir, { recursive: true, force: true }));

  it(
    'builds a static binary into an image archive under its ref',
    async () => {
      const image = await ensureOperatorImage({ cacheDir, log: (l) => lines.push(l) });
      expect(image.ref).toBe(`localhost/civostack-operator:${VERSION}`);
      expect(dirname(image.archive)).toMatch(new RegExp(`^${cacheDir}/operator-[0-9a-f]{16}$`));
      expect(createHash('sha256').update(readFileSync(image.archive)).digest('hex')).toBe(image.sha256);

      const manifest = JSON.parse((await execa('tar', ['-xOf', image.archive, 'manifest.json'])).stdout) as {
        RepoTags: string[];
        Layers: string[];
      }[];
      expect(manifest.map((m) => m.RepoTags)).toEqual([[image.ref]]);
      const out = tempDir('civostack-operator-bin-');
      try {
        const layer = manifest[0]!.Layers[0]!;
        await execa('tar', ['-xf', image.archive, '-C', out, layer]);
        await execa('tar', ['-xf', join(out, layer), '-C', out]);
        const binary = join(out, 'usr/local/bin/civostack-operator');
        const ldd = await execa('ldd', [binary], { reject: false, all: true });
        expect(ldd.all).toMatch(/not a dynamic executable|statically linked/);
        const help = await execa(binary, ['--help'], { reject: false, all: true });
        for (const flag of [
          'metrics-bind-address',
          'health-probe-bind-address',
          'leader-elect',
          'requeue-interval',
          'tenant-versions',
          'tenant-etcd-image',
          'region-networks',
          'tenant-endpoint-host',
        ])
          expect(help.all).toContain(`-${flag}`);
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    },
    BUILD_TIMEOUT,
  );

  it('reuses the cached image for the same sources', async () => {
    const first = await ensureOperatorImage({ cacheDir });
    const started = Date.now();
    const again = await ensureOperatorImage({ cacheDir, log: (l) => lines.push(l) });
    expect(again).toEqual(first);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(lines.at(-1)).toMatch(/^operator: reusing /);
  });
});
