/**
 * The benchmark's data: the project's own deterministic seed (core/src/seed, skewed categories, inactive products at
 * random, orders over a year and many customers) at 10,000 and 1,000,000 products, the naive reference's copy of it
 * in schema `naive`, and the products that order benchmarks buy.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { repoRoot } from '../../load-tests/native/paths.ts';
import type { BenchStack } from './stack.ts';

const run = promisify(execFile);

export const LOADTEST_CUSTOMERS = 200;

/** Reseeds the stack's database (SEED_RESET) with `products` products; returns the seconds it took. */
export async function seedCatalog(stack: BenchStack, products: number, tokenSecret: string): Promise<number> {
  const started = performance.now();
  await run(process.execPath, [join(repoRoot, 'core', 'dist', 'cli', 'seed.js')], {
    cwd: repoRoot,
    timeout: 900_000,
    maxBuffer: 16 * 1024 * 1024,
    env: {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'warn',
      DATABASE_URL: stack.env.DATABASE_URL,
      API_TOKEN_PEPPER: stack.env.API_TOKEN_PEPPER,
      SEED_PRODUCTS: String(products),
      SEED_CUSTOMERS: '1000',
      SEED_ORDERS: '20000',
      SEED_RESET: 'true',
      LOADTEST_CUSTOMERS: String(LOADTEST_CUSTOMERS),
      LOADTEST_TOKEN_SECRET: tokenSecret,
      DEV_ADMIN_TOKEN: stack.env.DEV_ADMIN_TOKEN,
      DEV_CUSTOMER_TOKEN: stack.env.DEV_CUSTOMER_TOKEN,
    },
  });
  return Math.round((performance.now() - started) / 100) / 10;
}

/** Empties the cache Redis: reads after a reseed must not be answered from the previous data set. */
export async function flushCache(stack: BenchStack): Promise<void> {
  // The server requires its password (stack.env); REDISCLI_AUTH keeps it off the command line.
  await run('redis-cli', ['-h', '127.0.0.1', '-p', stack.env.REDIS_CACHE_PORT ?? '', 'FLUSHALL'], {
    env: { ...process.env, REDISCLI_AUTH: stack.env.REDIS_CACHE_PASSWORD ?? '' },
  });
}

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * The products order benchmarks buy: `count` active products spread over the catalog, given stock enough for any
 * run (so both the stack and pgbench measure placing orders, never running out). Table bench_order_products(n, id).
 */
export async function prepareOrderProducts(databaseUrl: string, count: number): Promise<number[]> {
  return withClient(databaseUrl, async (client) => {
    await client.query('DROP TABLE IF EXISTS bench_order_products');
    await client.query(
      `CREATE TABLE bench_order_products AS
       SELECT row_number() OVER (ORDER BY id)::int AS n, id AS product_id
         FROM (SELECT id FROM products WHERE active ORDER BY hashint4(id) LIMIT $1) AS picked`.replace(
        '$1',
        String(count),
      ),
    );
    await client.query('ALTER TABLE bench_order_products ADD PRIMARY KEY (n)');
    await client.query('UPDATE products SET stock = 1000000 WHERE id IN (SELECT product_id FROM bench_order_products)');
    await client.query('ANALYZE bench_order_products');
    const { rows } = await client.query<{ product_id: number }>(
      'SELECT product_id FROM bench_order_products ORDER BY n',
    );
    return rows.map((row) => row.product_id);
  });
}

/** psql \copy of a CSV file (header: the columns below) into the products table. */
export async function copyProductsCsv(databaseUrl: string, path: string): Promise<void> {
  const columns = 'sku, category_id, name, description, price_cents, stock, active';
  await run('psql', [
    databaseUrl,
    '-X',
    '-v',
    'ON_ERROR_STOP=1',
    '-c',
    `\\copy products (${columns}) FROM '${path}' WITH (FORMAT csv, HEADER true)`,
  ]);
}

/** User ids of the load-test customers (customer1..N@example.com). */
export async function loadtestUserIds(databaseUrl: string): Promise<{ first: number; last: number }> {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query<{ first: number; last: number }>(
      `SELECT min(id)::int AS first, max(id)::int AS last FROM users
        WHERE email = ANY(ARRAY(SELECT format('customer%s@example.com', n) FROM generate_series(1, $1::int) AS n))`,
      [LOADTEST_CUSTOMERS],
    );
    const row = rows[0];
    if (!row || row.first === null) throw new Error('no load-test customers in the database');
    return row;
  });
}

/**
 * Schema `naive`: the same rows as the stack's tables, with only what a typical first version has: primary keys,
 * single-column indexes on products(category_id) and products(active), on the foreign keys it filters by
 * (orders.user_id, order_items.order_id) and the unique token hash. No partial, composite or text-search index.
 */
export async function createNaiveSchema(databaseUrl: string): Promise<number> {
  const started = performance.now();
  await withClient(databaseUrl, async (client) => {
    await client.query(`
      DROP SCHEMA IF EXISTS naive CASCADE;
      CREATE SCHEMA naive;
      CREATE TABLE naive.categories (id serial PRIMARY KEY, slug text NOT NULL, name text NOT NULL);
      INSERT INTO naive.categories (id, slug, name) SELECT id, slug, name FROM public.categories;
      CREATE TABLE naive.products (
        id serial PRIMARY KEY, sku text NOT NULL, category_id integer NOT NULL, name text NOT NULL,
        description text NOT NULL, price_cents integer NOT NULL, stock integer NOT NULL, active boolean NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO naive.products (id, sku, category_id, name, description, price_cents, stock, active, created_at, updated_at)
        SELECT id, sku, category_id, name, description, price_cents, stock, active, created_at, updated_at FROM public.products;
      CREATE INDEX ON naive.products (category_id);
      CREATE INDEX ON naive.products (active);
      CREATE TABLE naive.users (id serial PRIMARY KEY, email text NOT NULL, name text NOT NULL, role text NOT NULL);
      INSERT INTO naive.users (id, email, name, role) SELECT id, email, name, role FROM public.users;
      CREATE TABLE naive.api_tokens (id serial PRIMARY KEY, user_id integer NOT NULL, token_hash bytea NOT NULL UNIQUE,
        revoked_at timestamptz);
      INSERT INTO naive.api_tokens (id, user_id, token_hash, revoked_at)
        SELECT id, user_id, token_hash, revoked_at FROM public.api_tokens;
      CREATE TABLE naive.orders (id bigserial PRIMARY KEY, user_id integer NOT NULL, status text NOT NULL,
        total_cents bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO naive.orders (id, user_id, status, total_cents, created_at)
        SELECT id, user_id, status, total_cents, created_at FROM public.orders;
      CREATE INDEX ON naive.orders (user_id);
      CREATE TABLE naive.order_items (order_id bigint NOT NULL, product_id integer NOT NULL, quantity integer NOT NULL,
        unit_price_cents integer NOT NULL);
      INSERT INTO naive.order_items SELECT order_id, product_id, quantity, unit_price_cents FROM public.order_items;
      CREATE INDEX ON naive.order_items (order_id);
      SELECT setval(pg_get_serial_sequence('naive.products', 'id'), (SELECT max(id) FROM naive.products));
      SELECT setval(pg_get_serial_sequence('naive.orders', 'id'), (SELECT coalesce(max(id), 1) FROM naive.orders));
      ANALYZE naive.categories, naive.products, naive.users, naive.api_tokens, naive.orders, naive.order_items;
    `);
  });
  return Math.round((performance.now() - started) / 100) / 10;
}

/** EXPLAIN ANALYZE of one query: the execution time and the plan's node types, outermost first. */
export async function explain(
  databaseUrl: string,
  query: { text: string; values: unknown[] },
): Promise<{ executionMs: number; nodes: string[]; rows: number }> {
  return withClient(databaseUrl, async (client) => {
    const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number }] }>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${query.text}`,
      query.values,
    );
    const root = rows[0]?.['QUERY PLAN'][0];
    const nodes: string[] = [];
    const walk = (node: PlanNode | undefined) => {
      if (!node) return;
      const rowsNote = node['Actual Rows'] !== undefined ? ` rows=${node['Actual Rows']}` : '';
      const index = node['Index Name'] ? ` using ${node['Index Name']}` : '';
      nodes.push(`${node['Node Type']}${index}${rowsNote}`);
      for (const child of node.Plans ?? []) walk(child);
    };
    walk(root?.Plan);
    return {
      executionMs: Math.round((root?.['Execution Time'] ?? 0) * 100) / 100,
      nodes,
      rows: root?.Plan['Actual Rows'] ?? 0,
    };
  });
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  Plans?: PlanNode[];
}
