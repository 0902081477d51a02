/**
 * The load-test smoke run of `make test`: the "smoke" scenario of load-tests/workload.json (the workload k6 runs in
 * `make loadtest`) through nginx of the test stack, with vegeta, judged by the same thresholds. A failed threshold
 * fails this test and `make test`; the figures are printed either way.
 *
 * Thresholds here are loose sanity limits (workload.json "smoke"): the machine is shared and noisy. Performance
 * targets live in the benchmark (`make bench`), as ratios against references measured in the same run.
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '@stack/core';
import { productRows } from '../../core/src/seed/catalog-data.js';
import { discover } from '../../load-tests/native/discover.ts';
import { loadWorkload } from '../../load-tests/native/run.ts';
import { textReport, writeReports } from '../../load-tests/native/report.ts';
import { runScenario, type ScenarioReport } from '../../load-tests/native/scenario.ts';
import { repoRoot, stack } from '../support/stack.js';

const run = promisify(execFile);

/** Data of this file only: a category, products in it, customers with tokens and a few orders each. */
interface SmokeData {
  slug: string;
  tokens: string[];
}

async function seedSmokeData(databaseUrl: string, pepper: string): Promise<SmokeData> {
  const tag = `smoke${randomBytes(5).toString('hex')}`;
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'load-smoke-test' });
  await client.connect();
  try {
    const category = await client.query<{ id: number }>(
      `INSERT INTO categories (slug, name) VALUES ($1, $2) RETURNING id`,
      [tag, `Smoke ${tag}`],
    );
    const categoryId = category.rows[0]?.id as number;
    const rows = [...productRows(300, 4242)];
    await client.query(
      `INSERT INTO products (sku, category_id, name, description, price_cents, stock, active)
       SELECT format('%s-%s', $1::text, n), $2, name, description, price, 1000, active
         FROM unnest($3::text[], $4::text[], $5::int[], $6::bool[]) WITH ORDINALITY AS p(name, description, price, active, n)`,
      [tag, categoryId, rows.map((r) => r.name), rows.map((r) => r.description), rows.map((r) => r.priceCents), rows.map((r) => r.active)],
    );
    const tokens = Array.from({ length: 6 }, (_, i) => `${tag}_${randomBytes(12).toString('hex')}-c${i + 1}`);
    await client.query(
      `WITH customers AS (
         INSERT INTO users (email, name, role)
         SELECT format('%s-%s@example.com', $1::text, n), format('Smoke customer %s', n), 'customer'
           FROM generate_series(1, $2::int) AS n
         RETURNING id, email
       )
       INSERT INTO api_tokens (user_id, name, token_hash)
       SELECT c.id, 'load-smoke', t.hash
         FROM unnest($3::bytea[]) WITH ORDINALITY AS t(hash, n)
         JOIN customers c ON c.email = format('%s-%s@example.com', $1::text, t.n)`,
      [tag, tokens.length, tokens.map((token) => hashToken(token, pepper))],
    );
    return { slug: tag, tokens };
  } finally {
    await client.end();
  }
}

/** Two orders per customer through the API, so "my orders" and "order detail" have something to read. */
async function placeOrders(baseUrl: string, headers: Record<string, string>, tokens: string[], productIds: (string | number)[]) {
  for (const [index, token] of tokens.entries()) {
    for (let n = 0; n < 2; n += 1) {
      const response = await fetch(`${baseUrl}/api/v1/orders`, {
        method: 'POST',
        headers: {
          ...headers,
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          'Idempotency-Key': `smoke-setup-${randomBytes(8).toString('hex')}`,
        },
        body: JSON.stringify({ items: [{ productId: Number(productIds[(index * 2 + n) % productIds.length]), quantity: 1 }] }),
      });
      if (response.status !== 201) throw new Error(`placing a setup order: ${response.status} ${await response.text()}`);
    }
  }
}

describe('load-test smoke run (vegeta, workload.json "smoke")', () => {
  let workDir = '';
  let report: ScenarioReport | undefined;

  beforeAll(async () => {
    // vegeta is built with Go into .tools/bin; build it here when a fresh machine has not got it yet.
    if (!existsSync(join(repoRoot, '.tools', 'bin', 'vegeta'))) {
      await run('bash', [join(repoRoot, 'scripts', 'setup-loadgen.sh')], { cwd: repoRoot, timeout: 300_000 });
    }
    workDir = await mkdtemp(join(tmpdir(), 'load-smoke-'));
  }, 320_000);

  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('when the smoke scenario runs through nginx, then every request type meets the smoke thresholds and checks', async () => {
    const { nginxUrl, databaseUrl, tokenPepper, env } = stack();
    const headers: Record<string, string> = env.LOADTEST_KEY ? { 'X-Loadtest-Key': env.LOADTEST_KEY } : {};
    const workload = await loadWorkload();
    const own = await seedSmokeData(databaseUrl, tokenPepper);

    const first = await discover(workload, { baseUrl: nginxUrl, headers, tokens: own.tokens, categorySlugs: [own.slug] });
    await placeOrders(nginxUrl, headers, own.tokens, first.orderProductIds);
    const data = await discover(workload, { baseUrl: nginxUrl, headers, tokens: own.tokens, categorySlugs: [own.slug] });

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
