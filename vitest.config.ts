import { basename, join } from 'node:path';
import { defineConfig } from 'vitest/config';

// One config for every package (each Nx test target runs vitest with --root at its package).
// tools/test collects a JSON report per package to print one closing "N passed, N failed" line.
const results = process.env.IMAGEWRIGHT_TEST_RESULTS;

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    // Integration tests build images on a real engine; unit tests finish in milliseconds anyway.
    testTimeout: 300_000,
    hookTimeout: 600_000,
    // Engine-heavy files inside one package run one at a time: two cores, one engine.
    fileParallelism: false,
    reporters: results ? ['default', ['json', { outputFile: join(results, `${basename(process.cwd())}.json`) }]] : ['default'],
  },
});
