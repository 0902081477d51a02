/**
 * The k6 scripts (load-tests/*.js) cannot run here: k6 is AGPL-licensed and kept off this project's machines, and
 * `make loadtest` runs it in the grafana/k6 container. So their logic runs under a small stand-in for the k6 modules
 * (test/smoke/k6-standin: synchronous HTTP with curl, check(), k6/execution) against the test stack: options and
 * thresholds are built for every scenario, setup() discovers the same data as the native runner, iterations draw
 * every request type, and every response passes its checks. Timing, executors and the real k6 runtime are not
 * covered.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { seedFrom } from '../../load-tests/lib/workload-core.js';
import type { Workload, WorkloadData } from '../../load-tests/lib/workload-core.js';
import { loadWorkload } from '../../load-tests/native/workload-file.ts';
import { repoRoot } from '../support/stack.js';
import { prepareSmokeRun } from './support.js';

const run = promisify(execFile);
const standin = join(repoRoot, 'test', 'smoke', 'k6-standin');

async function runScript(scenario: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      join(standin, 'register.mjs'),
      join(standin, 'run-script.mjs'),
      join(repoRoot, 'load-tests', `${scenario}.js`),
    ],
    { cwd: repoRoot, env: { ...process.env, ...env }, maxBuffer: 32 * 1024 * 1024, timeout: 120_000 },
  );
  const line = stdout.trim().split('\n').pop() ?? '{}';
  return JSON.parse(line) as Record<string, unknown>;
}

interface K6Options {
  scenarios: Record<string, { executor: string; exec: string }>;
  thresholds: Record<string, string[]>;
}

describe('k6 scripts under the k6 stand-in', () => {
  let workload: Workload;

  beforeAll(async () => {
    workload = await loadWorkload();
  });

  it.each(['smoke', 'load', 'stress', 'spike', 'soak'])(
    'when %s.js is loaded, then its scenarios call exported functions and every request type has thresholds',
    async (scenario) => {
      const result = (await runScript(scenario, { OPTIONS_ONLY: '1' })) as { options: K6Options; exports: string[] };
      const phases = workload.scenarios[scenario]?.phases ?? [];
      expect(Object.keys(result.options.scenarios)).toEqual(phases.map((phase) => phase.name));
      for (const executor of Object.values(result.options.scenarios)) {
        expect(result.exports).toContain(executor.exec);
        expect(['ramping-arrival-rate', 'constant-vus']).toContain(executor.executor);
      }
      for (const type of Object.keys(workload.requests)) {
        expect(result.options.thresholds[`http_req_duration{type:${type}}`]).toHaveLength(2);
        expect(result.options.thresholds[`http_req_failed{type:${type}}`]).toHaveLength(1);
      }
      expect(result.exports).toEqual(expect.arrayContaining(['default', 'handleSummary', 'options', 'setup']));
    },
    60_000,
  );

  it('when smoke.js runs against the stack, then setup finds what the native runner finds and every request type passes its checks', async () => {
    const { baseUrl, headers, own, data } = await prepareSmokeRun(workload);

    const result = (await runScript('smoke', {
      BASE_URL: baseUrl,
      LOADTEST_KEY: headers['X-Loadtest-Key'] ?? '',
      LOADTEST_TOKENS: own.tokens.join(','),
      // Only this test's category: orders must not change the stock of other tests' products.
      LOADTEST_CATEGORIES: own.slug,
      LOADTEST_SEED: String(seedFrom(undefined)),
      RESULTS_DIR: '/results',
    })) as {
      setup: Record<string, number>;
      setupData: WorkloadData;
      byType: Record<string, { requests: number; failed: number; statuses: Record<string, number> }>;
      failedChecks: unknown[];
      checks: number;
      summaryKeys: string[];
      summaryText: string;
    };

    // One discovery (workload-core.js), driven by k6's http.get there and by fetch here, with the same seed.
    expect(result.setupData).toEqual(data);
    expect(result.setup.categories).toBeGreaterThan(0);
    expect(result.setup.orderProducts).toBeGreaterThan(0);
    expect(result.setup.orders).toBeGreaterThan(0);
    expect(Object.keys(result.byType).sort()).toEqual(Object.keys(workload.requests).sort());
    const failedRequests = Object.entries(result.byType).filter(([, stats]) => stats.failed > 0);
    expect(failedRequests, JSON.stringify(result.byType)).toEqual([]);
    expect(result.failedChecks).toEqual([]);
    expect(result.checks).toBeGreaterThan(0);
    expect(result.summaryKeys.sort()).toEqual(['/results/smoke-summary.json', 'stdout']);
    expect(result.summaryText).toContain('all thresholds passed');
  }, 120_000);
});
