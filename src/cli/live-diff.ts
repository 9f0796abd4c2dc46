// `civostack region diff --live`: the render against what each switch runs now, read over SSH with
// pinned host keys. The same output as `region diff` (per-device unified diffs, coloured in a
// terminal, a change list with --output json); it writes nothing, not even logs.
import { changesJson, formatChanges, liveChanges } from '../diff/index.js';
import { ExitCode, UserError } from '../errors.js';
import { readLive, SONIC_CONFIG_DB } from '../live/index.js';
import { previewTree } from '../pipeline.js';
import { Limiter, parseConcurrency } from '../remote/index.js';
import { printJson, type Io, type OutputFormat } from './output.js';
import { prepareFromManifest } from './render.js';

export interface LiveDiffFlags {
  readonly stateDir?: string;
  readonly output: OutputFormat;
  readonly concurrency?: string;
}

export async function liveDiffCommand(io: Io, manifest: string, flags: LiveDiffFlags): Promise<number> {
  const p = prepareFromManifest(io, manifest, flags);
  const limiter = new Limiter(flags.concurrency ? parseConcurrency(flags.concurrency) : undefined);
  const read = await readLive(p, { limiter });
  if (read.targets.length === 0)
    throw new UserError(
      'no switch can be reached: none has a pinned SSH host key',
      read.unreachable.map((u) => `${u.device}: ${u.reason}`).join('; '),
    );
  const changes = liveChanges(previewTree(p), read.devices, p.secretValues);
  const errors = read.failed.map((f) => ({
    device: f.device,
    message: f.error.message.startsWith(f.device) ? f.error.message : `${f.device}: ${f.error.message}`,
    ...(f.error instanceof UserError && f.error.hint ? { hint: f.error.hint } : {}),
  }));
  if (flags.output === 'json')
    printJson(io, {
      ...(changesJson(changes) as object),
      devices: read.devices.map((d) => ({ device: d.device, platform: d.platform })),
      errors,
      skipped: read.unreachable,
    });
  else {
    for (const u of read.unreachable) io.err(`note: ${u.device} not compared: ${u.reason}`);
    for (const d of read.devices.filter((x) => x.platform === 'frr'))
      io.err(`note: ${d.device} runs FRR without SONiC (no ${SONIC_CONFIG_DB}): frr.conf compared only`);
    for (const e of errors) io.err(`error: ${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}`);
    if (read.devices.length > 0) io.out(formatChanges(changes, io.color));
  }
  if (errors.length > 0) return ExitCode.error;
  return changes.length > 0 ? ExitCode.changes : ExitCode.ok;
}
