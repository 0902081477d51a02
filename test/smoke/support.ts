/**
 * Data the load-test smoke tests create for themselves in the shared test database (unique slug, SKUs, emails and
 * tokens, so they never meet another test's rows): a category with 300 products, six customers with bearer tokens,
 * and two orders per customer placed through the API.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { hashToken } from '@stack/core';
import { productRows } from '../../core/src/seed/catalog-data.js';
import type { Workload, WorkloadData } from '../../load-tests/lib/workload-core.js';
import { discover } from '../../load-tests/native/discover.ts';
import { stack } from '../support/stack.js';

/** A load-test run against the test stack, browsing and ordering only its own data. */
export interface SmokeRun {
  baseUrl: string;
  /** The load-test key header, when the stack has one (lifts nginx's rate limit). */
  headers: Record<string, string>;
  own: SmokeData;
  /** What discovery finds in the own data once every customer has orders. */
  data: WorkloadData;
}

/** Seeds own data, places two orders per customer, and discovers the result through nginx. */
export async function prepareSmokeRun(workload: Workload): Promise<SmokeRun> {
  const { nginxUrl, databaseUrl, tokenPepper, env } = stack();
  const headers: Record<string, string> = env.LOADTEST_KEY ? { 'X-Loadtest-Key': env.LOADTEST_KEY } : {};
  const own = await seedSmokeData(databaseUrl, tokenPepper);
  const options = { baseUrl: nginxUrl, headers, tokens: own.tokens, categorySlugs: [own.slug] };
  await placeOrders(nginxUrl, headers, own.tokens, (await discover(workload, options)).orderProductIds);
  return { baseUrl: nginxUrl, headers, own, data: await discover(workload, options) };
}

/** Data of this file only: a category, products in it, customers with tokens and a few orders each. */
export interface SmokeData {
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
      [
        tag,
        categoryId,
        rows.map((r) => r.name),
        rows.map((r) => r.description),
        rows.map((r) => r.priceCents),
        rows.map((r) => r.active),
      ],
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
async function placeOrders(
  baseUrl: string,
  headers: Record<string, string>,
  tokens: string[],
  productIds: (string | number)[],
) {
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
        body: JSON.stringify({
          items: [{ productId: Number(productIds[(index * 2 + n) % productIds.length]), quantity: 1 }],
        }),
      });
      if (response.status !== 201)
        throw new Error(`placing a setup order: ${response.status} ${await response.text()}`);
    }
  }
}
