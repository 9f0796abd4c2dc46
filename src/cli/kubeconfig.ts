// `civostack region kubeconfig`: where the region's admin kubeconfig is (written by region up).
import { existsSync } from 'node:fs';
import { ExitCode, UserError } from '../errors.js';
import { kubeconfigPath } from '../kube/kubeconfig.js';
import { stateDirFor } from '../state/index.js';
import { loadOrFail } from './load.js';
import type { Io } from './output.js';

export function kubeconfigCommand(io: Io, manifest: string, opts: { stateDir?: string }): number {
  const region = loadOrFail(io, manifest);
  const state = stateDirFor(manifest, region.name, opts.stateDir);
  const path = kubeconfigPath(state.path);
  if (!existsSync(path))
    throw new UserError(
      `${region.name} has no kubeconfig yet (${path})`,
      `run: civostack region up ${manifest}`,
      ExitCode.error,
    );
  io.out(path);
  return ExitCode.ok;
}
