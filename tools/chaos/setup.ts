/**
 * What a chaos run brings to the stack before the load starts and takes away after: data of its own (a category,
 * products with known stock, customers and an admin with bearer tokens: unique names, so other tests' rows are never
 * touched or counted), the api and worker processes restarted with the run's settings, and a webhook endpoint for
 * the run's loopback receiver.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { generateToken, hashToken, productRows } from '@stack/core';
import { withClient } from '../../bench/lib/data.ts';
import type { Stack } from '../stack/stack.ts';

/** The worker's name in every mode (tools/stack/stack.ts). */
export const WORKER = 'worker-1';

/**
 * Settings the api replicas and the worker run with during the run:
 * - WEBHOOK_ALLOWED_PRIVATE_CIDRS admits the run's own receiver on 127.0.0.1 (and nothing else private), as the
 *   job tests do (test/jobs/support.ts);
 * - a short hold and lapse interval, so orders lapse while the faults run and the stock invariant covers lapses;
 * - a short job lock and stalled check, so a job the worker was killed in comes back within seconds (the defaults,
 *   15 s and 5 s, would only lengthen the drain), and a short outbox poll and webhook backoff for the same reason.
 */
export const CHAOS_PROCESS_ENV: Record<string, string> = {
  WEBHOOK_ALLOWED_PRIVATE_CIDRS: '127.0.0.1/32',
  ORDER_HOLD_SECONDS: '20',
  ORDER_LAPSE_INTERVAL_MS: '2000',
  WORKER_LOCK_DURATION_MS: '4000',
  WORKER_STALLED_INTERVAL_MS: '2000',
  OUTBOX_POLL_INTERVAL_MS: '250',
  WEBHOOK_BACKOFF_BASE_MS: '500',
  WEBHOOK_BACKOFF_MAX_MS: '4000',
  WEBHOOK_MAX_ATTEMPTS: '20',
  SHUTDOWN_TIMEOUT_MS: '8000',
};

export interface ChaosData {
  tag: string;
  slug: string;
  productIds: number[];
  /** Stock of each product right after it was written. */
  initialStock: Map<number, number>;
  customerIds: number[];
  customerTokens: string[];
  adminToken: string;
}

/** Users of one role with one bearer token each; their ids and tokens in the same order. */
async function insertUsers(client: pg.Client, tag: string, role: 'customer' | 'admin', count: number, pepper: string) {
  const tokens = Array.from({ length: count }, () => generateToken());
  const { rows } = await client.query<{ id: number }>(
    `WITH created AS (
       INSERT INTO users (email, name, role)
       SELECT format('%s-%s-%s@example.com', $1::text, $2::text, n), format('Chaos %s %s', $2::text, n), $2
         FROM generate_series(1, $3::int) AS n
       RETURNING id, email)
     INSERT INTO api_tokens (user_id, name, token_hash)
     SELECT c.id, 'chaos', t.hash
       FROM unnest($4::bytea[]) WITH ORDINALITY AS t(hash, n)
       JOIN created c ON c.email = format('%s-%s-%s@example.com', $1::text, $2::text, t.n)
     RETURNING user_id AS id`,
    [tag, role, count, tokens.map((token) => hashToken(token, pepper))],
  );
  const ids = await client.query<{ id: number; email: string }>(
    `SELECT id, email FROM users WHERE id = ANY($1::int[])`,
    [rows.map((row) => row.id)],
  );
  const byEmail = new Map(ids.rows.map((row) => [row.email, row.id]));
  const userIds = tokens.map((_, index) => byEmail.get(`${tag}-${role}-${index + 1}@example.com`) as number);
  return { ids: userIds, tokens };
}

/** A category with `products` products of `stock` units each, `customers` customers and one admin. */
export async function createChaosData(
  databaseUrl: string,
  pepper: string,
  counts: { products: number; customers: number; stock: number },
): Promise<ChaosData> {
  const tag = `chaos${randomBytes(5).toString('hex')}`;
  return withClient(databaseUrl, async (client) => {
    const category = await client.query<{ id: number }>(
      `INSERT INTO categories (slug, name) VALUES ($1, $2) RETURNING id`,
      [tag, `Chaos ${tag}`],
    );
    const rows = [...productRows(counts.products, 1111)];
    const products = await client.query<{ id: number; stock: number }>(
      `INSERT INTO products (sku, category_id, name, description, price_cents, stock, active)
       SELECT format('%s-%s', $1::text, n), $2, name, description, price, $6, true
         FROM unnest($3::text[], $4::text[], $5::int[]) WITH ORDINALITY AS p(name, description, price, n)
       RETURNING id, stock`,
      [
        tag,
        category.rows[0]?.id,
        rows.map((row) => row.name),
        rows.map((row) => row.description),
        rows.map((row) => row.priceCents),
        counts.stock,
      ],
    );
    const customers = await insertUsers(client, tag, 'customer', counts.customers, pepper);
    const admin = await insertUsers(client, tag, 'admin', 1, pepper);
    return {
      tag,
      slug: tag,
      productIds: products.rows.map((row) => row.id),
      initialStock: new Map(products.rows.map((row) => [row.id, row.stock])),
      customerIds: customers.ids,
      customerTokens: customers.tokens,
      adminToken: admin.tokens[0] as string,
    };
  });
}

/**
 * Restarts every api replica and the worker with `env` (SIGTERM: each drains, nginx routes to the others
 * meanwhile). With an empty `env` this puts back the stack's own settings after a run.
 */
export async function restartWith(stack: Stack, env: Record<string, string>): Promise<void> {
  for (const name of [...stack.addresses().apiNames, WORKER]) {
    await stack.stop(name, 'SIGTERM');
    await stack.start(name, env);
  }
}

/** Registers `url` for order.created through one replica directly (it runs with the allow-list); id and secret. */
export async function registerEndpoint(
  apiUrl: string,
  adminToken: string,
  url: string,
): Promise<{ id: number; secret: string }> {
  const response = await fetch(`${apiUrl}/api/v1/admin/webhooks`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${adminToken}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ url, eventTypes: ['order.created'] }),
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`registering the receiver answered ${response.status}: ${text}`);
  return JSON.parse(text) as { id: number; secret: string };
}

/** Deletes the endpoint (a left-over one would receive every later order of the stack). */
export async function deleteEndpoint(apiUrl: string, adminToken: string, id: number): Promise<void> {
  const response = await fetch(`${apiUrl}/api/v1/admin/webhooks/${id}`, {
    method: 'DELETE',
    headers: { Authorization: `Bearer ${adminToken}` },
  });
  await response.arrayBuffer();
  if (response.status !== 204 && response.status !== 404) {
    throw new Error(`deleting webhook endpoint ${id} answered ${response.status}`);
  }
}
