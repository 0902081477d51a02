/**
 * The load-test smoke run of `make test`: the "smoke" scenario of load-tests/workload.json (the workload k6 runs in
 * `make loadtest`) through nginx of the test stack, with vegeta, judged by the same thresholds. A failed threshold
 * fails this test and `make test`; the figures are printed either way.
 *
 * Thresholds here are loose sanity limits (workload.json "smoke"): the machine is shared and noisy. Performance
 * targets live in the benchmark (`make bench`), as ratios against references measured in the same run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { textReport, writeReports } from '../../load-tests/native/report.ts';
import { runScenario } from '../../load-tests/native/scenario.ts';
import { vegetaBinary } from '../../load-tests/native/vegeta.ts';
import { loadWorkload } from '../../load-tests/native/workload-file.ts';
import { repoRoot } from '../support/stack.js';
import { prepareSmokeRun } from './support.js';

describe('load-test smoke run (vegeta, workload.json "smoke")', () => {
  let workDir = '';

  beforeAll(async () => {
    // Installing is the set-up's job (make setup runs scripts/setup-loadgen.sh), not a test's: this throws, naming
    // the script, when the binary is absent.
    vegetaBinary();
    workDir = await mkdtemp(join(tmpdir(), 'load-smoke-'));
  });

  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('when the smoke scenario runs through nginx, then every request type meets the smoke thresholds and checks', async () => {
    const workload = await loadWorkload();
    const { baseUrl, headers, data } = await prepareSmokeRun(workload);
    const runId = `smoke${Date.now().toString(36)}`;
    // 15 s at the scenario's rate: long enough for every type to be sampled, short enough for `make test`.
    const report = await runScenario({ workload, data, baseUrl, headers, runId, workDir }, 'smoke', {
      durationScale: 0.75,
    });
    const text = textReport(report);
    console.log(`\n${text}\n`);
    await writeReports(report, join(repoRoot, 'load-tests', 'results', 'test-smoke'));

    expect(report.missingTypes, 'request types without data').toEqual([]);
    expect(Object.keys(report.byType).sort()).toEqual(Object.keys(workload.requests).sort());
    const failed = report.thresholds.filter((threshold) => !threshold.ok);
    expect(failed, `failed thresholds:\n${text}`).toEqual([]);
  }, 180_000);
});
