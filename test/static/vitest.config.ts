import { defineConfig } from 'vitest/config';

/**
 * For scripts/check-static.sh: only the static checks, without the root config's global setup (which starts a
 * native stack these checks do not need). `make test` runs the same files through the root config as well.
 */
export default defineConfig({
  test: {
    root: import.meta.dirname,
    include: ['*.test.ts'],
    testTimeout: 60_000,
    fileParallelism: false,
  },
});
