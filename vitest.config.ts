// Test runner: unit tests are fast and pure; integration tests run real dnsmasq, FRR, cloud-init,
// sshd and QEMU in network namespaces, and get longer timeouts. Files run one at a time: QEMU
// machines under software emulation share two cores badly, and timings stay predictable.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
