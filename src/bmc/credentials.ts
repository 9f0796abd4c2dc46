// A BMC's credentials file: YAML `{ username, password }`, readable by its owner only. The password
// goes from this file to the BMC (an HTTP header, ipmitool's environment) and nowhere else.
import { readFileSync, statSync } from 'node:fs';
import { parse } from 'yaml';
import { BmcError } from './driver.js';

export interface BmcCredentials {
  readonly username: string;
  readonly password: string;
}

const FORMAT_HINT = 'write it as two YAML lines: `username: admin` and `password: …`, then chmod 600 it';

/** Reads and checks `file` (an absolute path); every problem is a BmcError naming the node and the file, never its content. */
export function readCredentials(node: string, file: string): BmcCredentials {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    throw new BmcError(node, `BMC credentials file ${file} does not exist`, FORMAT_HINT);
  }
  if ((mode & 0o077) !== 0)
    throw new BmcError(
      node,
      `BMC credentials file ${file} may be read by other users (mode ${mode.toString(8).padStart(4, '0')})`,
      `chmod 600 ${file}`,
    );
  let data: unknown;
  try {
    data = parse(readFileSync(file, 'utf8'));
  } catch {
    // The parser's message may quote the file's text: it is not passed on.
    throw new BmcError(node, `BMC credentials file ${file} is not valid YAML`, FORMAT_HINT);
  }
  const d = data as { username?: unknown; password?: unknown } | null;
  if (typeof d?.username !== 'string' || d.username === '' || typeof d.password !== 'string')
    throw new BmcError(node, `BMC credentials file ${file} needs a username and a password`, FORMAT_HINT);
  return { username: d.username, password: d.password };
}
