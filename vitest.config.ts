import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import StoryFirstSequencer from './test/support/sequencer.js';

/**
 * One vitest run, three projects: `unit` needs no services (seconds: `make test-unit`), and one per way of running
 * the stack (test/support/stack.ts):
 *   native      test/support/global-setup.ts starts a native stack (Postgres, both Redis servers, nginx, api
 *               replicas, a worker from local binaries) once per run, in its own folder and on free ports.
 *   containers  test/containers/support/global-setup.ts builds the images and runs `make up` on a real Docker
 *               engine (stand-ins for the upstream images where no registry answers; scripts/standins/README.md),
 *               or skips every container test with the reason when no engine can run.
 *   swarm       test/swarm/support/global-setup.ts deploys docker-stack.yml with `make stack-deploy` on a single-node
 *               swarm (turning swarm mode on for the run when it is off), with the containers project's images.
 *   swarm-nodes test/swarm-nodes/support/global-setup.ts deploys it on a swarm of three engines of its own (one dockerd
 *               per network namespace, tools/stack/swarm/nodes.ts) that pull the images from a local registry.
 * The scenarios listed in CONTAINER_SCENARIOS run in both projects through the same Stack interface.
 * The JSON report feeds scripts/test-summary.mjs, which prints the `N passed, N failed, N skipped` line CI reads.
 */
const UNIT = [
  'api/test/send-body.test.ts',
  'core/test/closers.test.ts',
  'core/test/config.test.ts',
  'core/test/csv.test.ts',
  'worker/test/import-parsing.test.ts',
  'worker/test/queue-contract.test.ts',
  'worker/test/webhook-address-policy.test.ts',
  'worker/test/webhook-signature.test.ts',
  'test/docs/readme.test.ts',
  'test/smoke/workload.test.ts',
  'test/static/code-size.test.ts',
  'test/static/compose.test.ts',
  'test/static/stack.test.ts',
  'test/static/nginx-config.test.ts',
  'test/static/prometheus-rules.test.ts',
];

const CONTAINER_SCENARIOS = [
  'test/e2e/foundation.test.ts',
  'test/edge/replica-kill.test.ts',
  'test/edge/micro-cache.test.ts',
];

export default defineConfig({
  resolve: {
    // Tests run the TypeScript sources of the shared package, not its build output.
    alias: { '@stack/core': fileURLToPath(new URL('./core/src/index.ts', import.meta.url)) },
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Two cores: files in parallel would mostly fight over them and make timing-based checks flaky.
    fileParallelism: false,
    sequence: { sequencer: StoryFirstSequencer },
    reporters: ['default', 'json'],
    // make test names one report per run (--outputFile.json=...); a bare vitest run writes this one.
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      {
        extends: true,
        test: {
          name: 'native',
          include: ['core/test/**/*.test.ts', 'api/test/**/*.test.ts', 'worker/test/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [...UNIT, 'test/containers/**', 'test/swarm/**', 'test/swarm-nodes/**', '**/node_modules/**'],
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'containers',
          include: ['test/containers/**/*.test.ts', ...CONTAINER_SCENARIOS],
          globalSetup: ['test/containers/support/global-setup.ts'],
          // Image builds and `docker compose up --wait` take tens of seconds on two cores.
          testTimeout: 180_000,
          hookTimeout: 600_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'swarm',
          include: ['test/swarm/**/*.test.ts'],
          globalSetup: ['test/swarm/support/global-setup.ts'],
          // Rolling updates wait for health checks and Swarm's monitor period: minutes, not seconds.
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'swarm-nodes',
          include: ['test/swarm-nodes/**/*.test.ts'],
          globalSetup: ['test/swarm-nodes/support/global-setup.ts'],
          // A drain waits for the drained tasks' shutdown and their replacements' health checks.
          testTimeout: 180_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
