import { defineConfig } from 'vitest/config';

/**
 * Test files that replace a module (vi.mock) need a fresh module graph each; every other file
 * shares its worker's modules with the files before it (isolate: false), which saves re-importing
 * fastify, jose, kysely and the rest for each of the ~130 files: about a quarter of the suite's
 * time on two cores.
 */
const MOCKING_FILES = ['test/issuance/golden-certificates.test.ts', 'test/issuance/issuing-core.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Twice the cores of the 2-core machines this runs on: most long files wait on child
    // processes (sshd, jitca serve, kubectl, PostgreSQL), not on a core. 4 workers took the
    // suite from about 8 to under 6 minutes there (2026-12-05).
    maxWorkers: 4,
    projects: [
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: MOCKING_FILES, isolate: false } },
      { extends: true, test: { name: 'isolated', include: MOCKING_FILES } },
    ],
  },
});
