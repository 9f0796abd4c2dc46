// The lab region rendered as `region render` would, for tests that drive the fabric lab directly.
import { dirname, resolve } from 'node:path';
import { renderFromManifest } from '../../src/cli/render.js';
import type { Plan } from '../../src/plan/index.js';
import { readSecrets } from '../../src/state/index.js';

const quiet = { out: () => {}, err: () => {}, color: false };

export function renderedRegion(
  manifest: string,
  stateDir?: string,
): {
  plan: Plan;
  configs: Map<string, string>;
  secret: (name: string) => string;
} {
  const r = renderFromManifest(quiet, manifest, stateDir ? { stateDir } : {});
  const values = readSecrets(r.state, r.plan, dirname(resolve(manifest))).values;
  const configs = new Map(
    r.plan.switches
      .filter((s) => s.role !== 'mgmt')
      .map((s) => [s.name, r.tree.get(`switches/${s.name}/frr.conf`)!.content] as const),
  );
  return { plan: r.plan, configs, secret: (name) => values.get(name)! };
}
