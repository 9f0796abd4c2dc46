// A fingerprint of a folder (every path, mode and content), to prove a command wrote nothing.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** sha256 of every path, mode and content under `dir`; "absent" when it does not exist. */
export function hashTree(dir: string): string {
  if (!existsSync(dir)) return 'absent';
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(d, e.name);
      h.update(`${relative(dir, full)} ${statSync(full).mode}\n`);
      if (e.isDirectory()) walk(full);
      else h.update(readFileSync(full));
    }
  };
  walk(dir);
  return h.digest('hex');
}
