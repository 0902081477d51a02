/**
 * Fuzzing from the OpenAPI document (schemathesis, every check, every phase including stateful): thousands of
 * generated requests, valid and invalid, against every documented operation, once with an admin token and once with
 * a customer token. Each run must end with 0 failures: no 5xx, and every status, header, content type and body is
 * what the document says for that request (issue 11, "The API contract must be exact").
 *
 * The target is an api process of its own, on a scratch database and its own Redis databases, because the fuzzer
 * creates and changes rows at random: the shared test stack's data stays out of its reach. No worker reads that
 * database or those queues, so the webhook endpoints the fuzzer registers with generated URLs never receive a
 * delivery: nothing is ever sent to them (issue 11, "Safety of these tests").
 *
 * FUZZ_SECONDS bounds each run (default 45: two runs and the set-up stay under two and a half minutes).
 * The full output of each run goes to test-results/fuzz-<role>.txt.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, hashToken, loadSeedConfig, migrate } from '@stack/core';
import { RULES_BEYOND_SCHEMA } from '../../api/src/http/openapi.js';
import { seed } from '../../core/src/seed/seed.js';
import { freePort } from '../../tools/stack/native/plan.ts';
import { screenshotPath } from '../support/browser.js';
import { createScratchDatabase, repoRoot, stack } from '../support/stack.js';

const schemathesis = join(repoRoot, '.tools', 'venv', 'bin', 'schemathesis');
const FUZZ_SECONDS = Number(process.env.FUZZ_SECONDS ?? 45);
// Redis database index for the fuzz target's cache and queue: the stack's own processes use db 0.
const REDIS_DB = 7;
const tokens = {
  admin: `stk_fuzz_admin_${randomBytes(16).toString('hex')}`,
  customer: `stk_fuzz_customer_${randomBytes(16).toString('hex')}`,
};
const logger = createLogger({ level: 'silent', instance: 'fuzz', component: 'test' });

let api: ChildProcess | undefined;
let apiUrl = '';
let dropDatabase: (() => Promise<void>) | undefined;
// The generated settings and schemathesis's own files, removed afterwards.
const workDir = mkdtempSync(join(tmpdir(), 'fuzz-'));

const withDb = (url: string) => `${url.replace(/\/\d*$/, '')}/${REDIS_DB}`;

beforeAll(async () => {
  const database = await createScratchDatabase('fuzz');
  dropDatabase = database.drop;
  await migrate({ databaseUrl: database.url, dir: join(repoRoot, 'db', 'init'), lockTimeoutMs: 5_000, logger });
  await seed(
    loadSeedConfig({
      DATABASE_URL: database.url,
      API_TOKEN_PEPPER: stack().tokenPepper,
      SEED_PRODUCTS: '500',
      SEED_CUSTOMERS: '20',
      SEED_ORDERS: '50',
    }),
    logger,
  );
  await addFuzzUsers(database.url);
  const [port, metricsPort] = [await freePort(), await freePort()];
  apiUrl = `http://127.0.0.1:${port}`;
  api = spawn(process.execPath, [join(repoRoot, 'api/dist/main.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      INSTANCE_NAME: 'api-fuzz',
      LOG_LEVEL: 'error',
      DATABASE_URL: database.url,
      REDIS_CACHE_URL: withDb(stack().redisCacheUrl),
      REDIS_QUEUE_URL: withDb(stack().redisQueueUrl),
      API_TOKEN_PEPPER: stack().tokenPepper,
      ALLOW_DEV_SECRETS: 'true',
      WEBHOOK_SECRET_KEY: randomBytes(32).toString('hex'),
      // The per-token write limit would turn most of a run's writes into (documented) 429s and leave the
      // operations behind them untested; it has tests of its own.
      API_WRITE_RATE_PER_SECOND: '100000',
      API_WRITE_BURST: '100000',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const ready = await fetch(`${apiUrl}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return;
    await sleep(100);
  }
  throw new Error('fuzz target api did not become ready');
}, 120_000);

afterAll(async () => {
  if (api && api.exitCode === null) {
    api.kill('SIGTERM');
    await once(api, 'exit');
  }
  await dropDatabase?.();
  rmSync(workDir, { recursive: true, force: true });
  for (const url of [stack().redisCacheUrl, stack().redisQueueUrl]) {
    const redis = new Redis(withDb(url));
    await redis.flushdb();
    redis.disconnect();
  }
});

/**
 * The fuzzer's admin and customer, with their tokens, at random ids far above the seeded rows: the run revokes
 * tokens (DELETE /admin/tokens/{id}) and lists users' tokens at the ids it draws, mostly small ones and bounds,
 * and must not revoke its own credentials half-way and test the rest of the run as an anonymous caller.
 */
async function addFuzzUsers(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (const role of ['admin', 'customer'] as const) {
      const id = 1_000_000_000 + randomInt(1_000_000_000);
      await client.query(`INSERT INTO users (id, email, name, role) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4)`, [
        id,
        `fuzz-${role}-${id}@example.com`,
        `Fuzz ${role}`,
        role,
      ]);
      await client.query(
        `INSERT INTO api_tokens (id, user_id, name, token_hash) OVERRIDING SYSTEM VALUE VALUES ($1, $1, 'fuzz', $2)`,
        [id, hashToken(tokens[role], stack().tokenPepper)],
      );
    }
  } finally {
    await client.end();
  }
}

/**
 * schemathesis settings from the document, per operation:
 * - positive_data_acceptance expects schema-valid requests to be accepted (2xx, 404 for a drawn id, 409 for a
 *   conflict), and also a 422 where the operation documents rules beyond its schemas (RULES_BEYOND_SCHEMA: an
 *   inactive category, `from` after `to`, a cursor it never handed out);
 * - negative_data_rejection counts a 413 as a refusal (a body over the route's documented limit);
 * - an operation whose request body is text of a type other than text/plain (the CSV/NDJSON upload) gets positive
 *   data only: schemathesis sends a non-string "negative" body such as `{}` as the text `{}`, a valid file by the
 *   document, and skips that case only for text/plain (schemathesis 4.32, specs/openapi/checks.py,
 *   _is_stringifying_media_type). Negative parameters and headers of such an operation go untested; the upload has
 *   none, and its empty body (the one it refuses, 400, documented as minLength 1) has tests of its own.
 */
const REFUSED = ['400', '401', '403', '404', '405', '406', '409', '413', '415', '422', '428', '429'];

async function schemathesisConfig(): Promise<string> {
  const document = (await (await fetch(`${apiUrl}/api/openapi.json`)).json()) as {
    paths: Record<string, Record<string, Record<string, unknown>>>;
  };
  const accepted = ['2xx', '3xx', '401', '403', '404', '409', '429'];
  const lines = [
    '[checks.positive_data_acceptance]',
    `expected-statuses = ${JSON.stringify(accepted)}`,
    // schemathesis's list of refusals, with 413: a body over the route's limit is refused before it is read.
    '[checks.negative_data_rejection]',
    `expected-statuses = ${JSON.stringify(REFUSED)}`,
    '',
  ];
  for (const methods of Object.values(document.paths)) {
    for (const operation of Object.values(methods)) {
      const settings: string[] = [];
      if (operation[RULES_BEYOND_SCHEMA] !== undefined) {
        settings.push(`checks.positive_data_acceptance.expected-statuses = ${JSON.stringify([...accepted, '422'])}`);
      }
      const body = operation.requestBody as { content: Record<string, unknown> } | undefined;
      if (Object.keys(body?.content ?? {}).some((type) => type.startsWith('text/') && type !== 'text/plain')) {
        settings.push('generation.mode = "positive"');
      }
      if (settings.length === 0) continue;
      lines.push('[[operations]]', `include-operation-id = ${JSON.stringify(operation.operationId)}`, ...settings, '');
    }
  }
  const path = join(workDir, 'schemathesis.toml');
  writeFileSync(path, lines.join('\n'));
  return path;
}

/** One schemathesis run with every check and every phase, as `role`; its exit code and output. */
async function fuzz(role: keyof typeof tokens): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    schemathesis,
    [
      '--config-file',
      await schemathesisConfig(),
      'run',
      `${apiUrl}/api/openapi.json`,
      '--header',
      `Authorization: Bearer ${tokens[role]}`,
      '--checks',
      'all',
      '--phases',
      'examples,coverage,fuzzing,stateful',
      '--max-time',
      String(FUZZ_SECONDS),
      '--workers',
      '1',
      '--no-color',
    ],
    // Its working folder collects a replay database (.schemathesis/): keep that out of the repository.
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: workDir },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  writeFileSync(screenshotPath(`fuzz-${role}.txt`), output);
  const summary = output
    .split('\n')
    .filter((line) => /generated|passed|failed|failures|Test cases|Stateful|Scenarios|=====|^\s*\d+\.\s/.test(line));
  console.log(`schemathesis as ${role}:\n${summary.join('\n')}`);
  return { code, output };
}

describe('fuzzing the api from its OpenAPI document', () => {
  for (const role of ['admin', 'customer'] as const) {
    it.skipIf(!existsSync(schemathesis))(
      `when thousands of generated requests with a ${role} token hit every operation under every check, then none fails`,
      async () => {
        const { code, output } = await fuzz(role);
        expect(output, output.slice(-6_000)).toMatch(/Test cases:\s*\n\s*\d+ generated/);
        expect(code, output.slice(-12_000)).toBe(0);
      },
      FUZZ_SECONDS * 1_000 + 60_000,
    );
  }
});
