// Setup file of the unit tests: points TMPDIR (which os.tmpdir() and mkdtemp read, and child
// processes inherit) at the run's own folder (temp-check.ts), and removes the temp folders a test
// file made after its last test.
import { afterAll, inject } from 'vitest';
import { removeTempDirs } from './temp.js';

process.env.TMPDIR = inject('civostackUnitTmp');
afterAll(removeTempDirs);
