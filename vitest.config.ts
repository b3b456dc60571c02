import { defineConfig } from 'vitest/config';

// One config for every package (each Nx test target runs vitest with --root at its package).
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    // Integration tests build images on a real engine; unit tests finish in milliseconds anyway.
    testTimeout: 300_000,
    hookTimeout: 600_000,
    // Engine-heavy files inside one package run one at a time: two cores, one engine.
    fileParallelism: false,
    reporters: ['default'],
  },
});
