/**
 * `make loadtest` right after `make up`, as a user runs it, up to the k6 container itself: k6 is AGPL-licensed and
 * never runs on our machines, so the compose service `k6` runs here on an image with the k6 stand-in of the smoke
 * tests (test/smoke/k6-standin: the same scripts from load-tests/, k6's modules emulated in Node, HTTP through curl;
 * timing and executors are not covered). Everything else is the user's path: scripts/loadtest.sh prepares the
 * data and tokens, then `docker compose --profile loadtest run --rm k6` with the compose file's environment and
 * mounts, on the stack's network, against nginx with the development load-test key.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, inject, it } from 'vitest';
import { describeStack, docker, repoRoot } from '../support/stack.js';
import { make } from './support/compose.js';

const K6_STANDIN = 'node-stack-standin/k6:test';

interface StandinResult {
  setup: { customers: number; products: number; orderProducts: number };
  byType: Record<string, { requests: number; failed: number; statuses: Record<string, number> }>;
  failedChecks: unknown[];
  checks: number;
}

describeStack('make loadtest', () => {
  beforeAll(async () => {
    // The node base the api image is built on (a stand-in or node:24-bookworm-slim), plus curl and the k6 stand-in.
    const nodeImage =
      (JSON.parse(inject('stackEnv').COMPOSE_ENV ?? '{}') as Record<string, string>).NODE_IMAGE ??
      'node:24-bookworm-slim';
    const context = mkdtempSync(join(tmpdir(), 'k6-standin-'));
    try {
      cpSync(join(repoRoot, 'test/smoke/k6-standin'), join(context, 'test/smoke/k6-standin'), { recursive: true });
      cpSync(join(repoRoot, 'load-tests/lib'), join(context, 'load-tests/lib'), { recursive: true });
      // `k6 run <script>`, the compose service's command, becomes the stand-in's `run-script.mjs <script>`.
      writeFileSync(
        join(context, 'k6'),
        '#!/bin/sh\n[ "$1" = run ] && shift\nexec node --import /k6/test/smoke/k6-standin/register.mjs /k6/test/smoke/k6-standin/run-script.mjs "$@"\n',
        { mode: 0o755 },
      );
      writeFileSync(
        join(context, 'Dockerfile'),
        `FROM ${nodeImage}\n` +
          'RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n' +
          'COPY . /k6/\nENTRYPOINT ["/k6/k6"]\n',
      );
      // The legacy builder: plain `docker build` with BuildKit needs the buildx plugin, which compose does not.
      await docker(['build', '--quiet', '--tag', K6_STANDIN, context], { env: { DOCKER_BUILDKIT: '0' } });
    } finally {
      rmSync(context, { recursive: true, force: true });
    }
  });

  it('when make loadtest SCENARIO=smoke runs after make up, then the k6 service finds data, tokens and the allowance, and every check passes', async () => {
    const output = await make(['loadtest', 'SCENARIO=smoke'], { K6_IMAGE: K6_STANDIN });
    const line = output.split('\n').find((text) => text.startsWith('{"options"'));
    expect(line, output.slice(-3000)).toBeDefined();
    const result = JSON.parse(line as string) as StandinResult;
    console.log(
      `make loadtest (k6 stand-in in the k6 service): ${result.checks} checks, ` +
        `${Object.values(result.byType).reduce((sum, type) => sum + type.requests, 0)} requests, setup ${JSON.stringify(result.setup)}`,
    );
    expect(output).toContain('load-test customers ready');
    expect(result.setup.customers).toBe(200);
    expect(result.setup.products).toBeGreaterThan(0);
    expect(result.failedChecks).toEqual([]);
    for (const [type, stats] of Object.entries(result.byType)) {
      // No 429: the development load-test key reached nginx from the k6 container.
      expect(stats.failed, `${type}: ${JSON.stringify(stats.statuses)}`).toBe(0);
    }
    expect(Object.keys(result.byType).length).toBeGreaterThanOrEqual(8);
  });
});
