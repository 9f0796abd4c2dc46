// `civostack lab vm …` without the rest of the CLI: the lab's BMC emulators call it on every power
// query, and ipmi_sim answers nothing while it runs, so it must start fast (bin/civostack routes here).
import { ExitCode, UserError } from '../errors.js';
import { labVmCommand } from './lab-vm-command.js';
import type { Io } from './output.js';

// Not output.js's processIo: that module loads the manifest stage (zod and all) for its diagnostics.
const hookIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  color: false,
};

export async function main(argv: readonly string[], io: Io = hookIo): Promise<number> {
  const rest = argv.slice(4);
  const flags: { stateDir?: string; via: string } = { via: 'cli' };
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--state-dir') flags.stateDir = rest[++i] ?? '';
    else if (a === '--via') flags.via = rest[++i] ?? 'cli';
    else if (a === '-h' || a === '--help') return (await import('./main.js')).main(argv, io);
    else positional.push(a);
  }
  try {
    const [node, action, device] = positional;
    if (!node || !action)
      throw new UserError(
        'usage: civostack lab vm <node> <action> [device] --state-dir <dir>',
        undefined,
        ExitCode.usage,
      );
    return await labVmCommand(io, node, action, device, flags);
  } catch (err) {
    if (err instanceof UserError) {
      io.err(`error: ${err.message}`);
      if (err.hint) io.err(`  hint: ${err.hint}`);
      return err.exitCode;
    }
    io.err(`internal error: ${(err as Error).message}`);
    return ExitCode.internal;
  }
}
