/**
 * Postgres restarts under the api: while it is down, reads that need it get a fast problem+json 503
 * with Retry-After (never a hang, never internals), cached public reads keep answering from Redis,
 * readiness says why; once it is back, every replica recovers without a restart of its own.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken, hashToken } from '@stack/core';
import { stack, start, stop } from '../support/stack.js';

const suffix = `${process.pid}-${Date.now().toString(36)}`;
let customerToken: string;

beforeAll(async () => {
  const pool = new pg.Pool({ connectionString: stack().databaseUrl, max: 1 });
  try {
    const { rows } = await pool.query<{ id: number }>(
      `INSERT INTO users (email, name, role) VALUES ($1, 'Failure test', 'customer') RETURNING id`,
      [`pg-restart-${suffix}@example.com`],
    );
    customerToken = generateToken();
    await pool.query('INSERT INTO api_tokens (user_id, token_hash) VALUES ($1, $2)', [
      rows[0]?.id,
      hashToken(customerToken, stack().tokenPepper),
    ]);
  } finally {
    await pool.end();
  }
});

afterAll(async () => {
  // Leave the shared stack as we found it, whatever happened above.
  await start('postgres').catch(() => undefined);
});

async function timed(url: string, init?: RequestInit) {
  const started = performance.now();
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  const body = await response.text();
  return { response, body, ms: performance.now() - started };
}

describe('when Postgres restarts', () => {
  it('then requests that need it fail fast with 503, cached reads still answer, and every replica recovers', async () => {
    const { apiUrls } = stack();
    const ordersOf = (base: string) => `${base}/api/v1/orders`;
    const auth = { headers: { authorization: `Bearer ${customerToken}` } };
    // Warm the api's Redis cache with a public read, and check the orders route works before the outage.
    for (const base of apiUrls) expect((await timed(`${base}/api/v1/categories`)).response.status).toBe(200);
    for (const base of apiUrls) expect((await timed(ordersOf(base), auth)).response.status).toBe(200);

    await stop('postgres');
    try {
      for (const base of apiUrls) {
        const ready = await timed(`${base}/readyz`);
        expect(ready.response.status).toBe(503);
        expect(JSON.parse(ready.body)).toMatchObject({ status: 'unavailable', checks: { postgres: false } });
        expect(ready.ms).toBeLessThan(5_000);

        const orders = await timed(ordersOf(base), auth);
        // 503 for an outage; 401 would mean the token check failed open or closed wrongly.
        expect(orders.response.status).toBe(503);
        expect(orders.response.headers.get('content-type')).toContain('application/problem+json');
        expect(orders.response.headers.get('retry-after')).toMatch(/^\d+$/);
        const problem = JSON.parse(orders.body) as Record<string, unknown>;
        expect(problem).toMatchObject({ status: 503, type: expect.stringMatching(/unavailable$/) });
        expect(orders.body).not.toMatch(/ECONNREFUSED|postgres|127\.0\.0\.1|\bat \S+ \(/i);
        expect(orders.ms).toBeLessThan(10_000);

        const cached = await timed(`${base}/api/v1/categories`);
        expect(cached.response.status).toBe(200);
      }
    } finally {
      await start('postgres');
    }

    // Each replica's pool reconnects by itself: poll until its orders route answers again.
    for (const base of apiUrls) {
      let status = 0;
      for (let attempt = 0; attempt < 40 && status !== 200; attempt += 1) {
        status = (await timed(ordersOf(base), auth)).response.status;
        if (status !== 200) await sleep(250);
      }
      expect(status).toBe(200);
      expect((await timed(`${base}/readyz`)).response.status).toBe(200);
    }
  });
});
