// Global setup of the unit tests: the run gets a temp folder of its own, and fails when anything
// is left in it at the end. Every test removes what it creates (tempDir() in test/helpers/temp.ts
// registers the removal); a leak shows here, by name, instead of as a thousand folders in /tmp.
// A folder of its own, not a look at /tmp before and after: other runs on the same machine create
// and remove their own folders there meanwhile.
// The folder reaches the unit workers only (provide/inject; temp-cleanup.ts sets TMPDIR there).
// Setting TMPDIR here, in the main process, would hand it to the integration workers too, whose
// dnsmasq and sshd drop privileges and cannot enter a 0700 folder of root's.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    civostackUnitTmp: string;
  }
}

export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'civostack-unit-'));
  project.provide('civostackUnitTmp', dir);
  return () => {
    const left = readdirSync(dir);
    rmSync(dir, { recursive: true, force: true });
    if (left.length > 0)
      throw new Error(
        `the unit tests left ${left.length} temp entr${left.length === 1 ? 'y' : 'ies'} behind: ${left.slice(0, 20).join(', ')}${left.length > 20 ? ', …' : ''}; remove them in afterEach/afterAll (tempDir() does)`,
      );
  };
}
