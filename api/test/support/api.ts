/**
 * Helpers for the api's integration tests: the app from createApp on port 0 against the native
 * stack's Postgres and Redis (real clients, nothing mocked), users with real tokens, catalog rows
 * of a test's own (unique slugs and SKUs), and the OpenAPI checks every test can apply to a response.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  closeJobQueues,
  createCacheRedis,
  createJobQueues,
  createLogger,
  createPool,
  createQueueRedis,
  issueApiToken,
  type JobQueues,
  type Pool,
  type Redis,
} from '@stack/core';
import { createApp, type App, type AppDeps } from '../../src/app.js';
import { createMetrics, type Metrics } from '../../src/http/metrics.js';
import { stack } from '../../../test/support/stack.js';

export const unique = (prefix: string): string => `${prefix}-${randomBytes(5).toString('hex')}`;

export interface TestApi {
  url: string;
  app: App;
  pool: Pool;
  cacheRedis: Redis;
  queueRedis: Redis;
  /** The job tier's queues, when started `withJobs`. */
  queues: JobQueues | undefined;
  metrics: Metrics;
  lifecycle: { draining: boolean };
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export interface StartOptions {
  databaseUrl?: string;
  redisCacheUrl?: string;
  cacheCommandTimeoutMs?: number;
  settings?: Partial<AppDeps['settings']>;
  poolMax?: number;
  /** Mount the job tier's modules too (reports, imports, webhooks, queue UI), as main.ts does. */
  withJobs?: boolean;
  /** With `withJobs`: the upload limit (IMPORT_MAX_BYTES). */
  importMaxBytes?: number;
}

/** The api on 127.0.0.1:0 with clients of its own, closed by close(). */
export async function startApi(options: StartOptions = {}): Promise<TestApi> {
  const logger = createLogger({
    level: process.env.TEST_LOG_LEVEL ?? 'silent',
    instance: 'api-test',
    component: 'api',
  });
  const pool = createPool(
    {
      DATABASE_URL: options.databaseUrl ?? stack().databaseUrl,
      PG_POOL_MAX: options.poolMax ?? 5,
      PG_CONNECT_TIMEOUT_MS: 2_000,
      PG_STATEMENT_TIMEOUT_MS: 10_000,
      PG_IDLE_IN_TRANSACTION_TIMEOUT_MS: 10_000,
      INSTANCE_NAME: 'api-test',
    },
    logger,
  );
  const cacheRedis = createCacheRedis(
    options.redisCacheUrl ?? stack().redisCacheUrl,
    options.cacheCommandTimeoutMs ?? 500,
    logger,
  );
  const queueRedis = createQueueRedis(stack().redisQueueUrl, 'producer', logger);
  const metrics = createMetrics();
  metrics.observePool(pool);
  const lifecycle = { draining: false };
  const queues = options.withJobs
    ? createJobQueues({ connection: queueRedis, settings: { webhookMaxAttempts: 3 }, onError: () => undefined })
    : undefined;
  const app = createApp({
    logger,
    pool,
    cacheRedis,
    queueRedis,
    lifecycle,
    metrics,
    settings: {
      trustProxyHops: 1,
      edgeCacheMaxAgeSeconds: 5,
      cacheTtlSeconds: 60,
      tokenPepper: stack().tokenPepper,
      authTokenCacheMs: 0,
      ...options.settings,
    },
    ...(queues
      ? { jobs: { queues, importMaxBytes: options.importMaxBytes ?? 52_428_800, queueBoardSessionTtlSeconds: 300 } }
      : {}),
  });
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The cache client connects in the background; tests that count hits want it ready.
  await new Promise<void>((resolve) => {
    if (cacheRedis.status === 'ready') resolve();
    cacheRedis.once('ready', () => resolve());
    setTimeout(resolve, 1_000).unref();
  });
  return {
    url,
    app,
    pool,
    cacheRedis,
    queueRedis,
    queues,
    metrics,
    lifecycle,
    fetch: (path, init) => fetch(url + path, init),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      app.close();
      if (queues) await closeJobQueues(queues);
      await pool.end();
      cacheRedis.disconnect();
      queueRedis.disconnect();
    },
  };
}

export interface TestUser {
  id: number;
  token: string;
  tokenId: number;
  headers: Record<string, string>;
}

/** A user of `role` with a fresh API token. */
export async function createUser(pool: Pool, role: 'admin' | 'customer'): Promise<TestUser> {
  const { rows } = await pool.query<{ id: number }>(
    `INSERT INTO users (email, name, role) VALUES ($1, $2, $3) RETURNING id`,
    [`${unique(role)}@api.test`, `Api test ${role}`, role],
  );
  const id = (rows[0] as { id: number }).id;
  const issued = await issueApiToken(pool, stack().tokenPepper, { userId: id, name: 'api-test' });
  if (!issued) throw new Error('token not issued');
  return { id, token: issued.token, tokenId: issued.record.id, headers: { Authorization: `Bearer ${issued.token}` } };
}

export interface TestCatalog {
  categoryId: number;
  slug: string;
  productIds: number[];
  skus: string[];
}

/**
 * A category of its own with `count` products (names `<word> <sku>`, prices 100, 200, ... or all `priceCents`).
 * The one catalog factory of the tests (the job tests use it too).
 */
export async function createCatalog(
  pool: Pool,
  count: number,
  options: { stock?: number; word?: string; priceStep?: number; priceCents?: number } = {},
): Promise<TestCatalog> {
  const slug = unique('cat');
  const { rows } = await pool.query<{ id: number }>(
    `INSERT INTO categories (slug, name) VALUES ($1, $1) RETURNING id`,
    [slug],
  );
  const categoryId = (rows[0] as { id: number }).id;
  const skus = Array.from({ length: count }, (_, i) => `${slug}-p${i}`);
  const { rows: products } = await pool.query<{ id: number }>(
    `INSERT INTO products (sku, category_id, name, description, price_cents, stock)
     SELECT sku, $2, $3 || ' ' || sku, 'A test product', coalesce($6, ord * $4), $5
       FROM unnest($1::text[]) WITH ORDINALITY AS t(sku, ord)
      ORDER BY ord
     RETURNING id`,
    [
      skus,
      categoryId,
      options.word ?? 'Gadget',
      options.priceStep ?? 100,
      options.stock ?? 100,
      options.priceCents ?? null,
    ],
  );
  return { categoryId, slug, productIds: products.map((product) => product.id).sort((a, b) => a - b), skus };
}

export const json = (
  body: unknown,
  headers: Record<string, string> = {},
): RequestInit & { headers: Record<string, string> } => ({
  body: JSON.stringify(body),
  headers: { 'Content-Type': 'application/json', ...headers },
});

/** A counter's value from the app's own registry (e.g. cache outcomes). */
export async function counterValue(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  const match = metric?.values.find((value) => Object.entries(labels).every(([key, v]) => value.labels[key] === v));
  return match?.value ?? 0;
}
