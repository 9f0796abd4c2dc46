// Loading a manifest for a command: diagnostics to stderr, and a failed load becomes exit 1.
import { ExitCode } from '../errors.js';
import { loadRegion, type Region } from '../manifest/index.js';
import { AllocationError, planRegion, type PlanResult } from '../plan/index.js';
import { readAllocations, stateDirFor, type StateDir } from '../state/index.js';
import { UserError } from '../errors.js';
import { printDiagnostics, type Io } from './output.js';

export class InvalidManifest extends Error {
  readonly exitCode = ExitCode.error;
}

export function loadOrFail(io: Io, manifest: string): Region {
  const result = loadRegion(manifest);
  if (result.diagnostics.length > 0) printDiagnostics(io, result.diagnostics);
  if (!result.ok) throw new InvalidManifest(`${manifest} is not valid`);
  return result.region;
}

export interface Planned extends PlanResult {
  readonly region: Region;
  readonly state: StateDir;
}

export function planFromManifest(
  io: Io,
  manifest: string,
  opts: { stateDir?: string; prune?: boolean },
): Planned {
  const region = loadOrFail(io, manifest);
  const state = stateDirFor(manifest, region.name, opts.stateDir);
  try {
    return { region, state, ...planRegion(region, readAllocations(state), { prune: opts.prune ?? false }) };
  } catch (err) {
    if (err instanceof AllocationError) {
      throw new UserError(
        err.message,
        'grow the network in the manifest, or release removed devices with --prune',
      );
    }
    throw err;
  }
}
