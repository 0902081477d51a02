/**
 * The load-test smoke run of `make test`: the "smoke" scenario of load-tests/workload.json (the workload k6 runs in
 * `make loadtest`) through nginx of the test stack, with vegeta, judged by the same thresholds. A failed threshold
 * fails this test and `make test`; the figures are printed either way.
 *
 * Thresholds here are loose sanity limits (workload.json "smoke"): the machine is shared and noisy. Performance
 * targets live in the benchmark (`make bench`), as ratios against references measured in the same run.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discover } from '../../load-tests/native/discover.ts';
import { loadWorkload } from '../../load-tests/native/run.ts';
import { textReport, writeReports } from '../../load-tests/native/report.ts';
import { runScenario, type ScenarioReport } from '../../load-tests/native/scenario.ts';
import { repoRoot, stack } from '../support/stack.js';
import { placeOrders, seedSmokeData } from './support.js';

describe('load-test smoke run (vegeta, workload.json "smoke")', () => {
  let workDir = '';
  let report: ScenarioReport | undefined;

  beforeAll(async () => {
    // Installing is the set-up's job (make setup builds vegeta with Go into .tools/bin), not a test's.
    if (!existsSync(join(repoRoot, '.tools', 'bin', 'vegeta'))) {
      throw new Error('vegeta is not installed (.tools/bin/vegeta): run make setup');
    }
    workDir = await mkdtemp(join(tmpdir(), 'load-smoke-'));
  });

  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('when the smoke scenario runs through nginx, then every request type meets the smoke thresholds and checks', async () => {
    const { nginxUrl, databaseUrl, tokenPepper, env } = stack();
    const headers: Record<string, string> = env.LOADTEST_KEY ? { 'X-Loadtest-Key': env.LOADTEST_KEY } : {};
    const workload = await loadWorkload();
    const own = await seedSmokeData(databaseUrl, tokenPepper);

    const first = await discover(workload, {
      baseUrl: nginxUrl,
      headers,
      tokens: own.tokens,
      categorySlugs: [own.slug],
    });
    await placeOrders(nginxUrl, headers, own.tokens, first.orderProductIds);
    const data = await discover(workload, {
      baseUrl: nginxUrl,
      headers,
      tokens: own.tokens,
      categorySlugs: [own.slug],
    });

    report = await runScenario(
      { workload, data, baseUrl: nginxUrl, headers, runId: `smoke${Date.now().toString(36)}`, workDir },
      'smoke',
      // 15 s at the scenario's rate: long enough for every type to be sampled, short enough for `make test`.
      { durationScale: 0.75 },
    );
    const text = textReport(report);
    console.log(`\n${text}\n`);
    await writeReports(report, join(repoRoot, 'load-tests', 'results', 'test-smoke'));

    expect(report.missingTypes, 'request types without data').toEqual([]);
    expect(Object.keys(report.byType).sort()).toEqual(Object.keys(workload.requests).sort());
    const failed = report.thresholds.filter((threshold) => !threshold.ok);
    expect(failed, `failed thresholds:\n${text}`).toEqual([]);
  }, 180_000);
});
