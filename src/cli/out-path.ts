// `--out` as the user gave it, checked before any work: an empty value or the wrong kind of thing
// at that path is a usage error with a hint, not an error from deep inside the write.
import { statSync } from 'node:fs';
import { ExitCode, UserError } from '../errors.js';

function existing(path: string): 'directory' | 'file' | 'other' | undefined {
  try {
    const st = statSync(path);
    return st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
  } catch {
    return undefined;
  }
}

/** `--out <dir>` of a command that writes a folder of files (and replaces it as a whole). */
export function checkOutDir(out: string, example: string): void {
  if (out.trim() === '')
    throw new UserError('--out is empty', `name the folder to write, e.g. --out ${example}`, ExitCode.usage);
  const kind = existing(out);
  if (kind !== undefined && kind !== 'directory')
    throw new UserError(
      `--out ${out} is ${kind === 'file' ? 'a file' : 'not a folder'}; the render writes a folder`,
      `name a new or empty folder (or one civostack rendered before), e.g. --out ${example}`,
      ExitCode.usage,
    );
}

/** `--out <file>` of a command that writes one file (replacing an existing file is fine). */
export function checkOutFile(out: string, example: string): void {
  if (out.trim() === '')
    throw new UserError('--out is empty', `name the file to write, e.g. --out ${example}`, ExitCode.usage);
  const kind = existing(out);
  if (kind !== undefined && kind !== 'file')
    throw new UserError(
      `--out ${out} is ${kind === 'directory' ? 'a folder' : 'not a regular file'}, not a file to write`,
      `name the file itself, e.g. --out ${example}`,
      ExitCode.usage,
    );
}
