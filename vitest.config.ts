// Test runner: unit tests are fast and pure; integration tests run real dnsmasq, FRR, cloud-init,
// QEMU in network namespaces, and get longer timeouts.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
