import { defineConfig } from 'vitest/config';
import { scaled, SLOWDOWN } from './test/helpers/pace.js';

// Timeouts are what a test may take on an idle machine, stretched by the
// slowdown measured now (test/helpers/pace.ts): a loaded CI machine gets more.
if (SLOWDOWN > 1.5) console.warn(`meowflow tests: this machine runs ${SLOWDOWN.toFixed(1)}x slower than idle; timeouts are stretched to match`);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: scaled(60_000),
    hookTimeout: scaled(60_000),
    // Integration tests spawn real processes; two cores are the norm here.
    maxWorkers: 2,
    setupFiles: ['test/setup.ts'],
  },
});
