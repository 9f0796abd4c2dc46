// Setup file of the unit tests: removes the temp folders a test file made, after its last test.
import { afterAll } from 'vitest';
import { removeTempDirs } from './temp.js';

afterAll(removeTempDirs);
