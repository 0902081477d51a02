/**
 * Native load test: the workload of load-tests/workload.json against a native stack (tools/stack/native), with
 * vegeta and wrk instead of k6. Exit code like k6's: 0 all thresholds passed, 99 a threshold failed, 1 an error.
 *
 *   node load-tests/native/run.ts [--scenario smoke|load|stress|spike|soak]
 *        [--base-url URL] [--out DIR] [--duration-scale F] [--rate-scale F]
 *
 * Environment: SCENARIO (default smoke), NATIVE_DIR (where stack.env is, default .native), LOADTEST_CUSTOMERS
 * (customers to act as, default 200), LOADTEST_TOKEN_SECRET (default: derived from the stack's pepper),
 * LOADTEST_SEED (seed of the draws, the same as k6's: workload-core.js seedFrom).
 * Usually started by scripts/loadtest-native.sh (`make loadtest-native`), which brings the stack up first.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ensureLoadtestTokens } from '@stack/core';
import { loadtestToken, seedFrom } from '../lib/workload-core.js';
import { discover } from './discover.ts';
import { repoRoot } from './paths.ts';
import { textReport, writeReports } from './report.ts';
import { runScenario } from './scenario.ts';
import { nativeDirFromEnvironment } from '../../tools/stack/native/cli.ts';
import { readStackEnv } from '../../tools/stack/native/env.ts';
import { loadWorkload } from './workload-file.ts';

// The benchmark (bench/lib/context.ts) reads the workload through this module.
export { loadWorkload };

/** The load-test token secret of a stack: given, or derived from its pepper (stable across runs, so no pile-up). */
export function stackTokenSecret(pepper: string, given?: string): string {
  if (given) return given;
  return `lt${createHash('sha256').update(`loadtest:${pepper}`).digest('hex').slice(0, 38)}`;
}

/** Makes sure seeded customers 1..count have their load-test tokens; returns the tokens that exist. */
export async function prepareTokens(
  databaseUrl: string,
  pepper: string,
  secret: string,
  count: number,
): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'loadtest-setup' });
  await client.connect();
  try {
    const stored = await ensureLoadtestTokens(client, { secret, customers: count, pepper });
    return Array.from({ length: stored }, (_, i) => loadtestToken(secret, i + 1));
  } finally {
    await client.end();
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string', default: process.env.SCENARIO ?? 'smoke' },
      'base-url': { type: 'string' },
      out: { type: 'string' },
      'duration-scale': { type: 'string', default: '1' },
      'rate-scale': { type: 'string', default: '1' },
    },
  });
  const scenario = values.scenario as string;
  const stackEnv = readStackEnv(nativeDirFromEnvironment());
  const baseUrl = values['base-url'] ?? stackEnv.nginx.url;
  const pepper = stackEnv.secrets.pepper;
  const databaseUrl = stackEnv.databaseUrl;

  const workload = await loadWorkload();
  const headers: Record<string, string> = { 'X-Loadtest-Key': stackEnv.secrets.loadtestKey };

  const secret = stackTokenSecret(pepper, process.env.LOADTEST_TOKEN_SECRET);
  const tokens = await prepareTokens(databaseUrl, pepper, secret, Number(process.env.LOADTEST_CUSTOMERS ?? 200));
  console.log(`discovering data through ${baseUrl} (${tokens.length} load-test customers)`);
  const seed = seedFrom(process.env.LOADTEST_SEED);
  const data = await discover(workload, { baseUrl, headers, tokens, seed });

  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const out =
    values.out ??
    join(repoRoot, 'load-tests', 'results', `native-${scenario}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  console.log(`scenario ${scenario}: ${workload.scenarios[scenario]?.description ?? '(unknown)'}`);
  const report = await runScenario(
    { workload, data, baseUrl, headers, runId, seed, workDir: join(out, 'raw'), log: (line) => console.log(line) },
    scenario,
    { durationScale: Number(values['duration-scale']), rateScale: Number(values['rate-scale']) },
  );
  const files = await writeReports(report, out);
  console.log(`\n${textReport(report)}\n\nsummary: ${files.json}\nreport:  ${files.html}`);
  return report.passed ? 0 : 99;
}

if (import.meta.main) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    },
  );
}
