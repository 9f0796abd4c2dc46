// Temp folders for tests, removed when the test file ends: tempDir() records each folder and the
// unit tests' setup file (test/helpers/temp-cleanup.ts) removes them after the file's last test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const created = new Set<string>();

/** A fresh temp folder for one test, removed after its file's tests. */
export function tempDir(prefix = 'civostack-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.add(dir);
  return dir;
}

/** Removes every folder tempDir() made in this file (root-owned files in them too, run as root). */
export function removeTempDirs(): void {
  for (const dir of created) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  created.clear();
}
