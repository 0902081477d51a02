/**
 * `make seed`: deterministic demo data for development, load tests and the benchmark.
 * The same settings write the same rows (ids, names, prices, orders) every time.
 *
 * Bulk rows go through COPY (one round trip per table, no per-row statements): 1,000,000 products
 * take tens of seconds, dominated by Postgres building the search vectors and indexes.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { hashToken } from '../auth/tokens.js';
import { invalidateCatalogCacheAt } from '../cache/catalog-invalidator.js';
import type { SeedConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { categoryRows, productRows } from './catalog-data.js';
import { ensureLoadtestTokens } from './loadtest-tokens.js';
import { createRandom } from './random.js';

/** Orders are spread over the year before this instant (fixed, so the data does not move with time). */
const ORDERS_END = Date.parse('2026-06-30T00:00:00Z');
const YEAR_MS = 365 * 24 * 3_600 * 1_000;

export interface SeedSummary {
  categories: number;
  products: number;
  customers: number;
  orders: number;
  ms: number;
}

export class SeedRefusedError extends Error {
  override name = 'SeedRefusedError';
}

export async function seed(config: SeedConfig, logger: Logger): Promise<SeedSummary> {
  const started = performance.now();
  const client = new pg.Client({ connectionString: config.DATABASE_URL, application_name: 'seed' });
  await client.connect();
  try {
    const { rows } = await client.query<{ users: number }>('SELECT count(*)::int AS users FROM users');
    if ((rows[0]?.users ?? 0) > 0 && !config.SEED_RESET) {
      throw new SeedRefusedError(
        'The database already has users; seeding would mix demo data with real data. ' +
          'Set SEED_RESET=true to delete all domain data first (development databases only).',
      );
    }
    await client.query('BEGIN');
    await client.query(`TRUNCATE webhook_deliveries, webhook_endpoints, import_errors, imports, reports, outbox,
      activity_logs, order_items, orders, api_tokens, users, products, categories RESTART IDENTITY CASCADE`);

    const categories = categoryRows();
    await client.query(`INSERT INTO categories (slug, name) SELECT * FROM unnest($1::text[], $2::text[])`, [
      categories.map((c) => c.slug),
      categories.map((c) => c.name),
    ]);
    logger.info({ categories: categories.length }, 'categories written');

    await copyRows(
      client,
      'COPY products (sku, category_id, name, description, price_cents, stock, active) FROM STDIN',
      (function* () {
        for (const p of productRows(config.SEED_PRODUCTS, config.SEED_RANDOM_SEED)) {
          yield `${p.sku}\t${p.categoryId}\t${p.name}\t${p.description}\t${p.priceCents}\t${p.stock}\t${p.active ? 't' : 'f'}\n`;
        }
      })(),
    );
    logger.info({ products: config.SEED_PRODUCTS }, 'products written');

    await client.query(`INSERT INTO users (email, name, role) VALUES ('admin@example.com', 'Admin', 'admin')`);
    await client.query(
      `INSERT INTO users (email, name, role)
       SELECT format('customer%s@example.com', n), format('Customer %s', n), 'customer'
         FROM generate_series(1, $1::int) AS n`,
      [config.SEED_CUSTOMERS],
    );
    // Admin is user 1, customer n is user n + 1.
    const devTokens: [number, string, string][] = [];
    if (config.DEV_ADMIN_TOKEN) devTokens.push([1, 'dev-admin', config.DEV_ADMIN_TOKEN]);
    if (config.DEV_CUSTOMER_TOKEN) devTokens.push([2, 'dev-customer', config.DEV_CUSTOMER_TOKEN]);
    for (const [userId, name, token] of devTokens) {
      await client.query('INSERT INTO api_tokens (user_id, name, token_hash) VALUES ($1, $2, $3)', [
        userId,
        name,
        hashToken(token, config.API_TOKEN_PEPPER),
      ]);
    }
    logger.info({ customers: config.SEED_CUSTOMERS, devTokens: devTokens.length }, 'users written');
    if (config.LOADTEST_CUSTOMERS > 0 && config.LOADTEST_TOKEN_SECRET) {
      const customers = Math.min(config.LOADTEST_CUSTOMERS, config.SEED_CUSTOMERS);
      await ensureLoadtestTokens(client, {
        secret: config.LOADTEST_TOKEN_SECRET,
        customers,
        pepper: config.API_TOKEN_PEPPER,
      });
      logger.info({ loadtestCustomers: customers }, 'load-test tokens written');
    }

    if (config.SEED_ORDERS > 0 && config.SEED_PRODUCTS > 0) await seedOrders(client, config);
    logger.info({ orders: config.SEED_ORDERS }, 'orders written');

    await client.query('COMMIT');
    await client.query('ANALYZE');
    return {
      categories: categories.length,
      products: config.SEED_PRODUCTS,
      customers: config.SEED_CUSTOMERS,
      orders: config.SEED_PRODUCTS > 0 ? config.SEED_ORDERS : 0,
      ms: Math.round(performance.now() - started),
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

/**
 * `seed`, then the catalog cache version bump (when REDIS_CACHE_URL is set): every catalog response cached before
 * the seed describes data that no longer exists. What `make seed` and the load-test preparation run.
 */
export async function seedAndInvalidate(config: SeedConfig, logger: Logger): Promise<SeedSummary> {
  const summary = await seed(config, logger);
  if (config.REDIS_CACHE_URL) await invalidateCatalogCacheAt(config.REDIS_CACHE_URL, logger);
  return summary;
}

/**
 * Orders: most customers order a little and a few order a lot (squared uniform skews toward low
 * ids), spread over a year; 1-3 items at the product's current price.
 */
async function seedOrders(client: pg.Client, config: SeedConfig): Promise<void> {
  const random = createRandom(config.SEED_RANDOM_SEED + 1);
  const { rows } = await client.query<{ next: number }>(
    `SELECT nextval(pg_get_serial_sequence('orders', 'id'))::bigint AS next`,
  );
  const firstId = Number(rows[0]?.next);
  // nextval consumed firstId; the COPY below takes firstId + 1 onwards, in order, in this session.
  const prices = await client.query<{ price: number }>('SELECT price_cents AS price FROM products ORDER BY id');
  const priceOf = prices.rows.map((row) => row.price);
  const orderLines: string[] = [];
  const itemLines: string[] = [];
  for (let n = 1; n <= config.SEED_ORDERS; n += 1) {
    const userId = 2 + Math.floor(random() ** 2 * config.SEED_CUSTOMERS);
    const createdAt = new Date(ORDERS_END - random() * YEAR_MS).toISOString();
    const itemCount = 1 + Math.floor(random() * 3);
    const productIds = new Set<number>();
    while (productIds.size < Math.min(itemCount, config.SEED_PRODUCTS)) {
      productIds.add(1 + Math.floor(random() * config.SEED_PRODUCTS));
    }
    let total = 0;
    for (const productId of productIds) {
      const quantity = 1 + Math.floor(random() * 3);
      const price = priceOf[productId - 1] ?? 0;
      total += quantity * price;
      itemLines.push(`${firstId + n}\t${productId}\t${quantity}\t${price}\n`);
    }
    orderLines.push(`${userId}\t${random() < 0.8 ? 'paid' : 'shipped'}\t${total}\t${createdAt}\n`);
  }
  await copyRows(client, 'COPY orders (user_id, status, total_cents, created_at) FROM STDIN', orderLines);
  await copyRows(client, 'COPY order_items (order_id, product_id, quantity, unit_price_cents) FROM STDIN', itemLines);
}

async function copyRows(client: pg.Client, sql: string, lines: Iterable<string>): Promise<void> {
  const source = Readable.from(batch(lines, 1_000), { objectMode: false });
  await pipeline(source, client.query(copyStreams.from(sql)));
}

/** Joins lines into larger chunks: one stream write per line costs more than the COPY itself. */
function* batch(lines: Iterable<string>, size: number): Generator<string> {
  let chunk: string[] = [];
  for (const line of lines) {
    chunk.push(line);
    if (chunk.length === size) {
      yield chunk.join('');
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk.join('');
}
