// Runs the built CLI as a user would: a child process, no terminal.
import { execa } from 'execa';
import { join } from 'node:path';
import { REPO } from './manifest.js';

export interface CliResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function civostack(
  args: readonly string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const result = await execa('node', [join(REPO, 'bin/civostack'), ...args], {
    cwd: opts.cwd ?? REPO,
    env: { NO_COLOR: '1', ...opts.env },
    reject: false,
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}
