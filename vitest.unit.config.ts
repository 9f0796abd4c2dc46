// The unit tests alone, for mutation testing (stryker.config.mjs): StrykerJS runs every project of
// the config it is given, and has no option to pick one.
import { defineConfig } from 'vitest/config';
import base, { unitProject } from './vitest.config.js';

export default defineConfig({ ...base, test: { ...base.test, projects: [unitProject] } });
