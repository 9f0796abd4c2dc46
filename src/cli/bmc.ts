// `civostack bmc status|on|off|cycle|boot-next`: power and one-time boot device through each node's BMC.
import { dirname, resolve } from 'node:path';
import { ExitCode, UserError } from '../errors.js';
import { planFromManifest } from './load.js';
import { printJson, type Io, type OutputFormat } from './output.js';
import { table } from './table.js';

export interface BmcFlags {
  readonly stateDir?: string;
  readonly output: OutputFormat;
  readonly concurrency: string;
}

export type BmcVerb = 'status' | 'on' | 'off' | 'cycle' | 'boot-next';

export async function bmcCommand(
  io: Io,
  verb: BmcVerb,
  manifest: string,
  args: readonly string[],
  flags: BmcFlags,
): Promise<number> {
  const concurrency = Number(flags.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new UserError(
      `--concurrency ${flags.concurrency} is not a positive whole number`,
      'e.g. --concurrency 8',
      ExitCode.usage,
    );
  let device: 'pxe' | 'disk' | undefined;
  let names = args;
  if (verb === 'boot-next') {
    const d = args[0];
    if (d !== 'pxe' && d !== 'disk')
      throw new UserError(
        `boot-next needs pxe or disk, not ${JSON.stringify(d ?? '')}`,
        'e.g. civostack bmc boot-next pxe inventories/lab.yaml r01-n01',
        ExitCode.usage,
      );
    device = d;
    names = args.slice(1);
  }
  const { bmcAction, bmcDrivers, bmcStatus, printable } = await import('../bmc/index.js');
  // The drivers strip what BMCs say already; this is the terminal's own guard, whatever a result holds.
  const shown = (text: string | undefined) => (text === undefined ? undefined : printable(text, Infinity));
  const { plan } = planFromManifest(io, manifest, flags);
  const known = new Set(plan.nodes.map((n) => n.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0)
    throw new UserError(
      `no node ${unknown.join(', ')} in ${manifest}`,
      `nodes: ${[...known].join(', ')}`,
      ExitCode.usage,
    );
  const nodes = names.length > 0 ? names : plan.nodes.map((n) => n.name);
  const drivers = bmcDrivers(plan, { manifestDir: dirname(resolve(manifest)) });
  const o = { concurrency };
  const results =
    verb === 'status'
      ? await bmcStatus(nodes, drivers, o)
      : await bmcAction(nodes, drivers, device ? { bootNext: device } : (verb as 'on' | 'off' | 'cycle'), o);
  const address = new Map(plan.nodes.map((n) => [n.name, n.bmc?.address]));
  if (flags.output === 'json') {
    printJson(
      io,
      results.map((r) => ({ ...r, address: address.get(r.node) ?? null })),
    );
  } else if (verb === 'status') {
    io.out(
      table(
        ['NODE', 'BMC', 'PROTOCOL', 'POWER', 'BOOT-NEXT', 'MODEL', 'PROBLEM'],
        results.map((r) => [
          r.node,
          address.get(r.node),
          r.protocol,
          r.power,
          r.bootNext,
          shown(r.model),
          shown(r.error),
        ]),
      ),
    );
  } else {
    const what = device ? `boot-next ${device}` : verb;
    for (const r of results)
      io.out(r.ok ? `${r.node}: ${what}: done` : `${r.node}: ${what}: FAILED: ${shown(r.error) ?? ''}`);
  }
  const failed = results.filter((r) => !r.ok);
  for (const r of failed) if (r.hint && flags.output !== 'json') io.err(`${r.node}: hint: ${shown(r.hint)}`);
  if (failed.length > 0) {
    io.err(`${failed.length} of ${results.length} BMC(s) failed: ${failed.map((r) => r.node).join(', ')}`);
    return ExitCode.error;
  }
  return ExitCode.ok;
}
