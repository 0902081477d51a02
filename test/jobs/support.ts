/**
 * Helpers for the job tier's integration tests: an in-process api (createApp on port 0) against the
 * native stack's Postgres and both Redis servers, users and tokens of their own, a local webhook
 * receiver, and control of the stack's worker process (which runs the relay and every job).
 *
 * Tests isolate by data: unique emails, slugs, SKUs and a date range of their own for report orders.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { withTransaction, type Pool } from '@stack/core';
import {
  createCatalog as createApiCatalog,
  createUser,
  startApi as startApiWithOptions,
  unique,
  type TestApi as ApiTestApi,
  type TestCatalog,
} from '../../api/test/support/api.js';
import { nativeStack, stack } from '../support/stack.js';

export { sleep, unique };

/** Thrown by a waitFor check: the awaited state can no longer come, stop now. */
export class StopWaiting extends Error {}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      if (error instanceof StopWaiting) throw error;
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(intervalMs);
  }
}

export type TestApi = ApiTestApi;

/** Private receivers the job tests may register and the worker may reach: their own loopback receivers only. */
export const TEST_WEBHOOK_ALLOWED_CIDRS = '127.0.0.1/32';

/**
 * The api on port 0 as main.ts runs it (api/test/support/api.ts), without nginx's micro-cache window, admitting
 * webhooks to 127.0.0.1 (unless `webhookPolicy: 'default'`, which refuses every private address as production does).
 */
export function startApi(
  options: { importMaxBytes?: number; webhookPolicy?: 'test-receivers' | 'default' } = {},
): Promise<TestApi> {
  return startApiWithOptions({
    env: {
      EDGE_CACHE_MAX_AGE_SECONDS: '0',
      ...(options.webhookPolicy === 'default' ? {} : { WEBHOOK_ALLOWED_PRIVATE_CIDRS: TEST_WEBHOOK_ALLOWED_CIDRS }),
      ...(options.importMaxBytes === undefined ? {} : { IMPORT_MAX_BYTES: String(options.importMaxBytes) }),
    },
  });
}

export { createUser };

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** A category and `count` products of its own (unique slug and SKUs), all at one price, with plenty of stock. */
export const createCatalog = (pool: Pool, count: number, priceCents = 1_000): Promise<TestCatalog> =>
  createApiCatalog(pool, count, { stock: 1_000_000, priceCents });

/** A local webhook receiver on 127.0.0.1:0 (or another loopback `host`) that records each request and answers with `respond`. */
export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  json: { id: string; type: string; createdAt: string; data: Record<string, unknown> };
  at: number;
}

export async function startReceiver(respond: (hook: ReceivedWebhook) => number = () => 200, host = '127.0.0.1') {
  const received: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      const hook = { headers: req.headers, body, json: JSON.parse(body) as ReceivedWebhook['json'], at: Date.now() };
      received.push(hook);
      res.writeHead(respond(hook)).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/hooks/${randomUUID()}`,
    received,
    /** Requests about one order (other tests' orders may reach a shared event type's endpoints). */
    forOrder: (orderId: number) => received.filter((hook) => hook.json.data.orderId === orderId),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Settings the job tests run the stack's worker with: short backoff and attempt bound (webhooks),
 * short lock and stalled interval (a killed job comes back within ~3 s), small batches (a report or
 * import runs long enough to be killed in the middle), the outbox retention every second (its
 * default week keeps every row the tests make, except the old ones outbox-retention.test.ts writes).
 */
export const FAST_WORKER_ENV: Record<string, string> = {
  WEBHOOK_ALLOWED_PRIVATE_CIDRS: TEST_WEBHOOK_ALLOWED_CIDRS,
  WEBHOOK_MAX_ATTEMPTS: '3',
  WEBHOOK_BACKOFF_BASE_MS: '200',
  WEBHOOK_BACKOFF_MAX_MS: '800',
  WEBHOOK_TIMEOUT_MS: '2000',
  WORKER_LOCK_DURATION_MS: '2000',
  WORKER_STALLED_INTERVAL_MS: '1000',
  OUTBOX_POLL_INTERVAL_MS: '250',
  OUTBOX_RETENTION_INTERVAL_MS: '1000',
  REPORT_BATCH_ROWS: '1000',
  IMPORT_BATCH_ROWS: '200',
  SHUTDOWN_TIMEOUT_MS: '4000',
};

let fastWorkerPid: number | undefined;

/**
 * Makes sure worker-1 runs with FAST_WORKER_ENV: restarts it (SIGTERM, then start with the settings)
 * unless this test process already did and the same worker process still runs.
 */
export async function ensureFastWorker(): Promise<void> {
  if (fastWorkerPid !== undefined && fastWorkerPid === nativeStack().pidOf('worker-1')) return;
  await nativeStack().stop('worker-1');
  await startWorker();
}

/** SIGKILLs worker-1 (startWorker brings it back with FAST_WORKER_ENV). */
export async function killWorker(): Promise<void> {
  await nativeStack().stop('worker-1', 'SIGKILL');
}

export async function startWorker(): Promise<void> {
  await nativeStack().start('worker-1', FAST_WORKER_ENV);
  fastWorkerPid = nativeStack().pidOf('worker-1');
}

export { stack };

/** A day of its own for a test's orders, somewhere in the ~8 years after `firstDay`, so a report reads only them. */
export function privateDay(firstDay: string): string {
  const offsetDays = Math.floor(Math.random() * 3_000);
  return new Date(Date.parse(`${firstDay}T00:00:00Z`) + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

/**
 * `count` orders of one customer on `day`, one second apart, each with one line per product at 100 cents:
 * quantity 1, or 1-3 by order id (`varied`). Set-based, so a report has hundreds of thousands of rows in seconds.
 */
export async function insertOrdersOnDay(
  pool: Pool,
  orders: { userId: number; day: string; count: number; productIds: number[]; totalCents: number; varied?: boolean },
): Promise<void> {
  const quantity = orders.varied ? '1 + (o.id % 3)::int' : '1';
  await withTransaction(pool, async (client) => {
    await client.query(`SET LOCAL statement_timeout = 0`);
    await client.query(
      `WITH o AS (
         INSERT INTO orders (user_id, total_cents, created_at)
         SELECT $1, $4, $2::timestamptz + g * interval '1 second' FROM generate_series(1, $3::int) AS g
         RETURNING id)
       INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
       SELECT o.id, p, ${quantity}, 100 FROM o CROSS JOIN unnest($5::int[]) AS p`,
      [orders.userId, `${orders.day}T00:00:00Z`, orders.count, orders.totalCents, orders.productIds],
    );
  });
}

/** What a job test starts from: the fast worker running, the in-process api, and an admin. */
export async function startWithAdmin() {
  await ensureFastWorker();
  const api = await startApi();
  const admin = await createUser(api.pool, 'admin');
  return { api, admin };
}

/** What the order-event tests start from: startWithAdmin, plus a customer and a product. */
export async function startShop() {
  const { api, admin } = await startWithAdmin();
  const customer = await createUser(api.pool, 'customer');
  const productId = (await createCatalog(api.pool, 1)).productIds[0] as number;
  return { api, admin, customer, productId };
}

/** One order of one unit of `productId` through the api, as `customerToken`; its id. */
export async function placeOrder(api: TestApi, customerToken: string, productId: number): Promise<number> {
  const response = await fetch(`${api.url}/api/v1/orders`, {
    method: 'POST',
    headers: { ...bearer(customerToken), 'Content-Type': 'application/json', 'Idempotency-Key': unique('order') },
    body: JSON.stringify({ items: [{ productId, quantity: 1 }] }),
  });
  if (response.status !== 201) throw new Error(`order answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: number }).id;
}

export interface Delivery {
  id: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
}

/** The delivery of one order's `order.created` event to one endpoint, if the fan-out made it yet. */
export async function deliveryOf(pool: Pool, endpointId: number, orderId: number): Promise<Delivery | undefined> {
  const { rows } = await pool.query<Delivery>(
    `SELECT d.id, d.status, d.attempts, d.last_status_code AS "lastStatusCode", d.last_error AS "lastError"
       FROM webhook_deliveries d JOIN outbox o ON o.id = d.outbox_id
      WHERE d.endpoint_id = $1 AND (o.payload->>'orderId')::bigint = $2`,
    [endpointId, orderId],
  );
  return rows[0];
}

/**
 * `count` products of a new category (inactive: the public catalog never shows them), each sold once on `day`
 * in paid orders of `perOrder` lines one second apart (pending ones would lapse); names end in `namePadding` times
 * ' x' (a longer CSV for the same rows). Set-based in SQL: a report by
 * product then has `count` rows, a million in seconds. removeSoldProducts deletes it all again.
 */
export async function insertSoldProducts(
  pool: Pool,
  sale: { userId: number; day: string; count: number; perOrder: number; namePadding?: number },
): Promise<{ categoryId: number }> {
  const { categoryId } = await createCatalog(pool, 0);
  await withTransaction(pool, async (client) => {
    await client.query(`SET LOCAL statement_timeout = 0`);
    await client.query(
      `INSERT INTO products (sku, category_id, name, price_cents, stock, active)
       SELECT 'sold-' || $1::int || '-' || g, $1, 'Item ' || g || repeat(' x', $3::int), 100, 0, false
         FROM generate_series(1, $2::int) AS g`,
      [categoryId, sale.count, sale.namePadding ?? 0],
    );
    await client.query(
      `WITH p AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM products WHERE category_id = $1),
            o AS (INSERT INTO orders (user_id, total_cents, status, created_at)
                  SELECT $2, $3::int * 100, 'paid', $4::timestamptz + g * interval '1 second'
                    FROM generate_series(0, ($5::int - 1) / $3::int) AS g
                  RETURNING id),
            numbered AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM o)
       INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
       SELECT numbered.id, p.id, 1, 100 FROM p JOIN numbered ON numbered.n = p.n / $3::int`,
      [categoryId, sale.userId, sale.perOrder, `${sale.day}T00:00:00Z`, sale.count],
    );
  });
  return { categoryId };
}

/** Deletes what insertSoldProducts made: the customer's orders (and their lines), then the products. */
export async function removeSoldProducts(pool: Pool, sale: { userId: number; categoryId: number }): Promise<void> {
  await withTransaction(pool, async (client) => {
    await client.query(`SET LOCAL statement_timeout = 0`);
    await client.query(`DELETE FROM orders WHERE user_id = $1`, [sale.userId]);
    await client.query(`DELETE FROM products WHERE category_id = $1`, [sale.categoryId]);
  });
}
