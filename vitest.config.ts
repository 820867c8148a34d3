import { configDefaults, defineConfig } from 'vitest/config';

/**
 * The identity model drives every DynamoDB call of concurrent consumers through a scheduler over
 * dynalite, whose own timing still varies the interleavings it reaches; with the rest of the suite
 * sharing the 2 cores it reaches the known merge-protection race (README "One race is known to
 * remain") far more often than alone. It runs after everything else, on its own.
 */
const IDENTITY_MODEL = 'test/identity/concurrency.model.test.ts';

export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Integration tests boot real emulators; give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    setupFiles: ['test/setup/polyfills.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'cdp',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, IDENTITY_MODEL],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'identity-model', include: [IDENTITY_MODEL], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
