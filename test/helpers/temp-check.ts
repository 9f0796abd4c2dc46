// Global setup of the unit tests: the run gets a temp folder of its own (TMPDIR, which os.tmpdir()
// and mkdtemp read), and fails when anything is left in it at the end. Every test removes what it
// creates (tempDir() in test/helpers/manifest.ts registers the removal); a leak shows here, by
// name, instead of as a thousand folders in /tmp. A folder of its own, not a look at /tmp before
// and after: other runs on the same machine create and remove their own folders there meanwhile.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const outer = process.env.TMPDIR;
  const dir = mkdtempSync(join(tmpdir(), 'civostack-unit-'));
  process.env.TMPDIR = dir;
  return () => {
    if (outer === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = outer;
    const left = readdirSync(dir);
    rmSync(dir, { recursive: true, force: true });
    if (left.length > 0)
      throw new Error(
        `the unit tests left ${left.length} temp entr${left.length === 1 ? 'y' : 'ies'} behind: ${left.slice(0, 20).join(', ')}${left.length > 20 ? ', …' : ''}; remove them in afterEach/afterAll (tempDir() does)`,
      );
  };
}
