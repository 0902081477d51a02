import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * One vitest run for every component. `test/support/global-setup.ts` starts a real native stack
 * (Postgres, both Redis servers, nginx, api replicas, a worker) once per run in its own folder and
 * on free ports, and stops it after; tests reach it through `stack()` from test/support/stack.ts.
 */
export default defineConfig({
  resolve: {
    // Tests run the TypeScript sources of the shared package, not its build output.
    alias: { '@stack/core': fileURLToPath(new URL('./core/src/index.ts', import.meta.url)) },
  },
  test: {
    include: ['core/test/**/*.test.ts', 'api/test/**/*.test.ts', 'worker/test/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Two cores: files in parallel would mostly fight over them and make timing-based checks flaky.
    fileParallelism: false,
    reporters: ['default'],
  },
});
