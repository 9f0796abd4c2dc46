// Test runner: unit tests are fast and pure; integration tests run real dnsmasq, FRR, cloud-init,
// sshd and QEMU in network namespaces, and get longer timeouts. Files run one at a time: QEMU
// machines under software emulation share two cores badly, and timings stay predictable.
// Two projects, so `vitest run --project unit` (and mutation testing) runs the unit tests alone;
// a unit run fails when it leaves a temp folder behind (test/helpers/temp-check.ts).
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

export const unitProject: TestProjectInlineConfiguration = {
  extends: true,
  test: {
    name: 'unit',
    include: ['test/unit/**/*.test.ts'],
    globalSetup: ['test/helpers/temp-check.ts'],
    setupFiles: ['test/helpers/temp-cleanup.ts'],
  },
};

const integrationProject: TestProjectInlineConfiguration = {
  extends: true,
  test: { name: 'integration', include: ['test/integration/**/*.test.ts'] },
};

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    sequence: { concurrent: false },
    projects: [unitProject, integrationProject],
  },
});
