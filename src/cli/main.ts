// The command line: parses flags, calls one function per command, maps failures to exit codes.
import { Command, CommanderError, Option } from 'commander';
import { ExitCode, UserError } from '../errors.js';
import { processIo, type Io, type OutputFormat } from './output.js';
import { InvalidManifest } from './load.js';
import { planCommand } from './plan.js';
import { diffCommand, renderCommand } from './render.js';
import { schemaCommand } from './schema.js';
import { validateCommand } from './validate.js';

const outputOption = (): Option =>
  new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text');

export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('civostack')
    .description('Take a bare-metal region from racked servers to a running Kubernetes cluster.')
    .option('--debug', 'print stack traces of internal errors')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride();

  const region = program.command('region').description('validate, plan, render and diff a region manifest');
  region
    .command('validate')
    .description('check a manifest: schema and every semantic rule, all errors at once')
    .argument('<manifest>', 'region manifest (YAML)')
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExample:\n  $ civostack region validate inventories/nyc1.yaml\n\nExit codes: 0 valid, 1 errors found.',
    )
    .action((manifest: string, opts: { output: OutputFormat }) =>
      setExit(validateCommand(io, manifest, opts.output)),
    );
  region
    .command('plan')
    .description('resolve every address, ASN, port and cable, and record the allocations')
    .argument('<manifest>', 'region manifest (YAML)')
    .addOption(outputOption())
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .option('--prune', 'release addresses of devices removed from the manifest', false)
    .option('--no-save', 'do not record allocations (a preview)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ civostack region plan inventories/lab.yaml\n  $ civostack region plan inventories/nyc1.yaml --output json | jq .nodes[0]\n\nAllocations are recorded in the state folder: adding a node never renumbers another.',
    )
    .action(
      (manifest: string, opts: { output: OutputFormat; stateDir?: string; prune: boolean; save: boolean }) =>
        setExit(planCommand(io, manifest, opts)),
    );
  region
    .command('render')
    .description("render every device's files (dnsmasq, iPXE, cloud-init, SONiC, FRR, K3s) into a folder")
    .argument('<manifest>', 'region manifest (YAML)')
    .requiredOption('--out <dir>', 'folder to write; replaced as a whole on every render')
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExample:\n  $ civostack region render inventories/nyc1.yaml --out /tmp/nyc1-configs\n\nFiles holding secrets are written with mode 0600.',
    )
    .action((manifest: string, opts: { out: string; stateDir?: string; output: OutputFormat }) =>
      setExit(renderCommand(io, manifest, opts)),
    );
  region
    .command('diff')
    .description('show what would change on every device, before anything is touched')
    .argument('<manifest>', 'region manifest (YAML)')
    .option(
      '--against <dir>',
      'compare with this folder (e.g. configs pulled from devices) instead of the last applied render',
    )
    .option('--state-dir <dir>', 'state folder (default: .civostack/<region> beside the manifest)')
    .addOption(outputOption())
    .addHelpText(
      'after',
      '\nExamples:\n  $ civostack region diff inventories/nyc1.yaml\n  $ civostack region diff inventories/nyc1.yaml --against /tmp/nyc1-configs --output json\n\nExit codes: 0 no changes, 2 changes, 1 error. Secrets are always redacted.',
    )
    .action((manifest: string, opts: { against?: string; stateDir?: string; output: OutputFormat }) =>
      setExit(diffCommand(io, manifest, opts)),
    );
  program
    .command('schema')
    .description('print the JSON Schema of the region manifest (for editors and CI)')
    .option('--out <file>', 'write it to a file instead')
    .addHelpText(
      'after',
      '\nExample:\n  $ civostack schema --out schema/manifest.schema.json\n  # then, first line of a manifest: # yaml-language-server: $schema=../schema/manifest.schema.json',
    )
    .action((opts: { out?: string }) => setExit(schemaCommand(io, opts.out)));
  return program;
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = buildProgram(io, (code) => (exitCode = code));
  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      )
        return ExitCode.ok;
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (err instanceof InvalidManifest) return err.exitCode;
    if (err instanceof UserError) {
      io.err(`error: ${err.message}`);
      if (err.hint) io.err(`  hint: ${err.hint}`);
      return err.exitCode;
    }
    io.err(`internal error: ${(err as Error).message}`);
    if (argv.includes('--debug')) io.err((err as Error).stack ?? '');
    else io.err('  run again with --debug for the stack trace, and report it');
    return ExitCode.internal;
  }
}
