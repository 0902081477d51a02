/**
 * Helpers for the api's integration tests: the api as main.ts runs it (createApiRuntime, on port 0)
 * against the native stack's Postgres and Redis (real clients, nothing mocked), users with real
 * tokens, catalog rows of a test's own (unique slugs and SKUs), and the OpenAPI checks every test can
 * apply to a response.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { issueApiToken, loadApiConfig, type Env, type Pool } from '@stack/core';
import type { Metrics } from '../../src/http/metrics.js';
import { createApiRuntime, type ApiRuntime } from '../../src/runtime.js';
import { stack } from '../../../test/support/stack.js';
import { fetchContract, type Contract } from './contract.js';

export const unique = (prefix: string): string => `${prefix}-${randomBytes(5).toString('hex')}`;

export interface TestApi extends ApiRuntime {
  url: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/** The order caps and the per-token write limit out of the way (their own tests set them low). */
export const OPEN_ORDER_LIMITS = {
  ORDER_MAX_LINES: '50',
  ORDER_MAX_UNITS: '50000',
  CUSTOMER_MAX_HELD_UNITS: '100000000',
  API_WRITE_RATE_PER_SECOND: '1000000',
  API_WRITE_BURST: '1000000',
} as const;

export interface StartOptions {
  /** Settings over the tests' defaults, as environment values: parsed by the api's own config schema. */
  env?: Env;
  /** A namespace of its own in the cache Redis (an api over another database must not read the shared entries). */
  cacheKeyPrefix?: string;
}

/** The api on 127.0.0.1:0 (metrics too) with clients of its own, closed by close(). */
export async function startApi(options: StartOptions = {}): Promise<TestApi> {
  const config = loadApiConfig({
    DATABASE_URL: stack().databaseUrl,
    REDIS_CACHE_URL: stack().redisCacheUrl,
    REDIS_QUEUE_URL: stack().redisQueueUrl,
    API_TOKEN_PEPPER: stack().tokenPepper,
    // The stack's own key file, so its worker opens the secrets this api seals.
    WEBHOOK_SECRET_KEY_FILE: stack().env.WEBHOOK_SECRET_KEY_FILE,
    HOST: '127.0.0.1',
    PORT: '0',
    METRICS_PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    INSTANCE_NAME: 'api-test',
    PG_POOL_MAX: '5',
    CACHE_COMMAND_TIMEOUT_MS: '500',
    // Every request checks its token, so a test sees a revocation at once.
    AUTH_TOKEN_CACHE_MS: '0',
    // The tests cover the compression middleware too (off by default behind nginx).
    HTTP_COMPRESSION: 'true',
    SHUTDOWN_DRAIN_DELAY_MS: '0',
    QUEUE_BOARD_SESSION_TTL_SECONDS: '300',
    // Tests place many orders and writes from one token: the caps and the write limit at their most open, except
    // where a test of them sets its own.
    ...OPEN_ORDER_LIMITS,
    ...options.env,
  });
  const runtime = await createApiRuntime(config, { cacheKeyPrefix: options.cacheKeyPrefix });
  // The cache client connects in the background; tests that count hits want it ready.
  await new Promise<void>((resolve) => {
    if (runtime.cacheRedis.status === 'ready') resolve();
    runtime.cacheRedis.once('ready', () => resolve());
    setTimeout(resolve, 1_000).unref();
  });
  const url = `http://127.0.0.1:${runtime.port}`;
  return { ...runtime, url, fetch: (path, init) => fetch(url + path, init) };
}

export interface ApiFixture {
  api: TestApi;
  /** The document `api` serves. */
  contract: Contract;
  admin: TestUser;
  customer: TestUser;
  /**
   * Calls a documented operation and checks the answer against the contract: `{id}` in `template` is `id`, the body
   * is sent as JSON, and the caller is `as` (default the admin; null for nobody).
   */
  call(
    method: string,
    template: string,
    options?: { id?: number; body?: unknown; as?: TestUser | null },
  ): Promise<{ response: Response; body: unknown }>;
}

/** For a file's tests: an api, its contract, an admin and a customer, ready before the first test and closed after the last. */
export function useApi(options: StartOptions = {}): ApiFixture {
  const fixture = {
    call: (method, template, { id, body, as = fixture.admin } = {}) => {
      const path = id === undefined ? template : template.replace('{id}', String(id));
      const headers = as?.headers ?? {};
      return fixture.contract.call(
        fixture.api.url + path,
        method,
        template,
        body === undefined ? { headers } : json(body, headers),
      );
    },
  } as ApiFixture;
  beforeAll(async () => {
    fixture.api = await startApi(options);
    fixture.contract = await fetchContract(fixture.api.url);
    [fixture.admin, fixture.customer] = await Promise.all([
      createUser(fixture.api.pool, 'admin'),
      createUser(fixture.api.pool, 'customer'),
    ]);
  });
  afterAll(() => fixture.api?.close());
  return fixture;
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
