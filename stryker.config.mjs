// Mutation testing (npm run mutate): StrykerJS changes the code of the pure core and the engine one
// mutant at a time and runs the unit tests that cover it; a mutant no test notices marks code the
// tests only execute. One folder: npm run mutate -- --mutate 'src/diff/**/*.ts'. Not part of npm
// test, nor of CI: a full run takes hours on two cores. Reports land in reports/mutation/.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // The unit tests only (integration tests need namespaces and real daemons).
  // related: false, since vitest's related mode finds no test through the .js import specifiers;
  // per-test coverage still runs only the tests that reach each mutant.
  vitest: { configFile: 'vitest.unit.config.ts', related: false },
  mutate: [
    'src/manifest/**/*.ts',
    'src/plan/**/*.ts',
    'src/diff/**/*.ts',
    'src/apply/**/*.ts',
    'src/bmc/**/*.ts',
  ],
  ignorePatterns: ['dist', 'coverage', 'reports', 'bench/out', '.civostack', 'inventories/.civostack'],
  coverageAnalysis: 'perTest',
  // Static mutants (module-level constants: tables, regexes) re-run every unit test file each;
  // they took 84% of the time on src/diff and are left out of the score.
  ignoreStatic: true,
  // The machine is shared: one test process, and a timeout loose enough for a loaded one.
  concurrency: 1,
  timeoutMS: 60_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
