// `civostack region render` and `region diff`: render every device's files, write them or compare.
// Render records allocations and secrets (prepare + commit); diff only prepares and writes nothing.
import { dirname, join, resolve } from 'node:path';
import { diffTrees, changesJson, formatChanges } from '../diff/index.js';
import { ExitCode } from '../errors.js';
import { commit, prepare, previewTree, type Prepared } from '../pipeline.js';
import type { BootOptions } from '../render/index.js';
import { macHyphen, type Mac } from '../manifest/index.js';
import { readTree, stateDirFor, writeTree } from '../state/index.js';
import { loadOrFail } from './load.js';
import { checkOutDir } from './out-path.js';
import { printJson, type Io, type OutputFormat } from './output.js';

/** Loads the manifest (diagnostics to stderr) and prepares it: nothing is written. */
export function prepareFromManifest(
  io: Io,
  manifest: string,
  opts: { stateDir?: string; boot?: BootOptions },
): Prepared {
  const region = loadOrFail(io, manifest);
  const prepared = prepare({
    region,
    manifestDir: dirname(resolve(manifest)),
    state: stateDirFor(manifest, region.name, opts.stateDir),
    ...(opts.boot ? { boot: opts.boot } : {}),
  });
  for (const f of prepared.looseFiles) io.err(`warning: ${f} can be read by other users: chmod 600 it`);
  return prepared;
}

/** Prepares and commits: allocations and new secrets are recorded. */
export function renderFromManifest(
  io: Io,
  manifest: string,
  opts: { stateDir?: string; boot?: BootOptions },
): Prepared {
  const prepared = prepareFromManifest(io, manifest, opts);
  commit(prepared);
  return prepared;
}

export function renderCommand(
  io: Io,
  manifest: string,
  flags: { out: string; stateDir?: string; output: OutputFormat },
): number {
  checkOutDir(flags.out, '/tmp/region-configs');
  const r = renderFromManifest(io, manifest, flags);
  writeTree(flags.out, r.tree);
  if (flags.output === 'json') {
    printJson(io, {
      out: flags.out,
      files: [...r.tree].map(([path, f]) => ({
        path,
        device: f.device,
        mode: `0${f.mode.toString(8)}`,
        bytes: Buffer.byteLength(f.content),
      })),
    });
  } else {
    const devices = new Set([...r.tree.values()].map((f) => f.device));
    io.out(`Rendered ${r.tree.size} files for ${devices.size} devices into ${flags.out}`);
  }
  return ExitCode.ok;
}

/** Where `region diff` compares against by default: what `region up` last applied to the devices. */
export function appliedDir(p: Prepared): string {
  return join(p.state.path, 'applied');
}

export function diffCommand(
  io: Io,
  manifest: string,
  flags: { against?: string; stateDir?: string; output: OutputFormat },
): number {
  const r = prepareFromManifest(io, manifest, flags);
  const baselineDir = flags.against ?? appliedDir(r);
  const baseline = readTree(baselineDir);
  const macOwners = new Map(
    r.plan.nodes.flatMap((n) => n.nics.map((nic) => [macHyphen(nic.mac as Mac), n.name] as const)),
  );
  const changes = diffTrees(baseline, previewTree(r), r.secretValues, macOwners);
  if (flags.output === 'json') printJson(io, changesJson(changes));
  else {
    if (baseline.size === 0) io.err(`note: ${baselineDir} holds no earlier render; everything shows as new`);
    io.out(formatChanges(changes, io.color));
  }
  return changes.length > 0 ? ExitCode.changes : ExitCode.ok;
}
