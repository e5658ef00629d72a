import { defineConfig } from 'vitest/config';

// `unit`: pure logic, no processes. `integration` starts the built agent as a real process on real sockets;
// `vm` builds images and boots real VMs (slow; run by `npm run test:vm` and CI).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'vm',
          include: ['test/vm/**/*.test.ts'],
          testTimeout: 30 * 60_000,
          hookTimeout: 60 * 60_000,
          // One VM at a time: two TCG guests on two cores starve each other.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
