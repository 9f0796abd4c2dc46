// Rendering in tests through the pure API, with fixed secrets so output is reproducible.
import { loadTemplates } from '../../src/cli/templates.js';
import { loadRegion } from '../../src/manifest/index.js';
import { planRegion, type AllocationTable, type Plan } from '../../src/plan/index.js';
import { DEFAULT_BOOT_OPTIONS, renderRegion, secretValues, type FileTree } from '../../src/render/index.js';

export const TEST_SSH_KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGNpdm9zdGFjay10ZXN0LWtleS1ub3QtZm9yLXVzZQ civostack@test';

/** Deterministic stand-ins for generated secrets: "secret-of-<name>". */
export function testSecrets(plan: Plan): Map<string, string> {
  return new Map(plan.secrets.map((s) => [s.name, `secret-of-${s.name.replace(/[^a-z0-9]/gi, '-')}`]));
}

export function renderFile(
  file: string,
  prior: AllocationTable = {},
): { plan: Plan; tree: FileTree; allocations: AllocationTable } {
  const loaded = loadRegion(file);
  if (!loaded.ok)
    throw new Error(loaded.diagnostics.map((d) => `${d.position.line}: ${d.message}`).join('\n'));
  const { plan, allocations } = planRegion(loaded.region, prior, { prune: false });
  const tree = renderRegion({
    plan,
    templates: loadTemplates(),
    secrets: secretValues(testSecrets(plan)),
    authorizedKeys: [...plan.os.sshAuthorizedKeys, TEST_SSH_KEY],
    boot: DEFAULT_BOOT_OPTIONS,
  });
  return { plan, tree, allocations };
}
