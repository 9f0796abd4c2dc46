// `civostack region render` and `region diff`: render every device's files, write them or compare.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { diffTrees, changesJson, formatChanges } from '../diff/index.js';
import { ExitCode, UserError } from '../errors.js';
import {
  DEFAULT_BOOT_OPTIONS,
  RenderError,
  renderRegion,
  secretValues,
  type BootOptions,
  type FileTree,
} from '../render/index.js';
import { macHyphen, type Mac } from '../manifest/index.js';
import { loadSecrets, readTree, SSH_KEY, writeAllocations, writeTree } from '../state/index.js';
import { planFromManifest, type Planned } from './load.js';
import { printJson, type Io, type OutputFormat } from './output.js';
import { loadTemplates } from './templates.js';

export interface Rendered extends Planned {
  readonly tree: FileTree;
  readonly secretValues: readonly string[];
}

export function renderFromManifest(
  io: Io,
  manifest: string,
  opts: { stateDir?: string; boot?: BootOptions },
): Rendered {
  const planned = planFromManifest(io, manifest, opts);
  writeAllocations(planned.state, planned.allocations);
  const manifestDir = dirname(resolve(manifest));
  const secrets = loadSecrets(planned.state, planned.plan, manifestDir);
  for (const f of secrets.looseFiles) io.err(`warning: ${f} can be read by other users: chmod 600 it`);
  const keyFiles = planned.plan.os.sshAuthorizedKeyFiles.map((f) =>
    readFileSync(resolve(manifestDir, f), 'utf8').trim(),
  );
  const authorizedKeys = [
    ...planned.plan.os.sshAuthorizedKeys,
    ...keyFiles,
    secrets.values.get(`${SSH_KEY}.pub`)!,
  ];
  try {
    const tree = renderRegion({
      plan: planned.plan,
      templates: loadTemplates(),
      secrets: secretValues(secrets.values),
      authorizedKeys,
      boot: opts.boot ?? DEFAULT_BOOT_OPTIONS,
    });
    const values = [...secrets.values].filter(([name]) => !name.endsWith('.pub')).map(([, v]) => v);
    return { ...planned, tree, secretValues: values };
  } catch (err) {
    if (err instanceof RenderError)
      throw new UserError(
        err.message,
        'this is a planning bug or a catalog error: report it with the manifest',
      );
    throw err;
  }
}

export function renderCommand(
  io: Io,
  manifest: string,
  flags: { out: string; stateDir?: string; output: OutputFormat },
): number {
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

export function diffCommand(
  io: Io,
  manifest: string,
  flags: { against?: string; stateDir?: string; output: OutputFormat },
): number {
  const r = renderFromManifest(io, manifest, flags);
  const baselineDir = flags.against ?? join(r.state.path, 'applied');
  const baseline = readTree(baselineDir);
  const macOwners = new Map(
    r.plan.nodes.flatMap((n) => n.nics.map((nic) => [macHyphen(nic.mac as Mac), n.name] as const)),
  );
  const changes = diffTrees(baseline, r.tree, r.secretValues, macOwners);
  if (flags.output === 'json') printJson(io, changesJson(changes));
  else {
    if (baseline.size === 0) io.err(`note: ${baselineDir} holds no earlier render; everything shows as new`);
    io.out(formatChanges(changes, io.color));
  }
  return changes.length > 0 ? ExitCode.changes : ExitCode.ok;
}
