// The lab's boot artifacts: the installer and the lab OS image, built from Debian packages the
// first time and reused from the cache after that (so the boot server starts at once).
import { DEFAULT_CACHE_DIR, labArtifacts } from '../artifacts.js';
import type { RegionContext } from '../../apply/context.js';
import type { Phase } from '../../apply/phase.js';

export function labArtifactsPhase(cacheDir: string | undefined): Phase<RegionContext, { lab: boolean }> {
  return {
    id: 'lab-artifacts',
    title: 'Installer and lab OS image',
    observe: (ctx) => Promise.resolve({ lab: ctx.prepared().plan.os.profile === 'lab-debian' }),
    shouldRun: (f) => f.lab,
    skipReason: () => 'the OS profile is not lab-debian: the manifest names its own installer and image',
    actions: () => [
      {
        target: 'this host',
        text: `build the installer and the lab OS image in ${cacheDir ?? DEFAULT_CACHE_DIR}, or reuse the cached ones`,
      },
    ],
    async run(ctx) {
      await labArtifacts(ctx.prepared().plan, cacheDir, (line) =>
        ctx.emit({ kind: 'log', code: 'lab.step', phase: 'lab-artifacts', message: line }),
      );
    },
  };
}
