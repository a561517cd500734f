import { defineConfig } from 'vitest/config';

// Two projects: pure unit tests live beside the code and run in milliseconds; integration tests under test/
// start private MariaDB servers, S3 servers and browsers, so they get generous timeouts. Two forks at most:
// the machine has two cores and each private MariaDB wants one.
export default defineConfig({
  test: {
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
