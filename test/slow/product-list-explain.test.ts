/**
 * Every list query the api runs, EXPLAINed on 1,000,000 seeded products (and orders spread over
 * customers) in a scratch database: the plans must use the indexes of db/init, never a sequential
 * scan of products or orders, for the first page, a deep cursor page, text search and the filters.
 * The SQL comes from the same builders the api calls (productListQueries, orderListQuery,
 * CATEGORY_LIST_SQL), with the parameters bound as the api binds them (one-shot statements get a
 * plan for their actual values, as here).
 *
 * Slow by nature (the seed dominates); `make test` runs it. SLOW_EXPLAIN_PRODUCTS overrides the size
 * for a quick local look.
 */
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CATEGORY_LIST_SQL,
  createLogger,
  loadSeedConfig,
  migrate,
  orderListQuery,
  productListQueries,
  type ProductListFilter,
} from '@stack/core';
import { seed } from '../../core/src/seed/seed.js';
import { createScratchDatabase, repoRoot, stack } from '../support/stack.js';

const PRODUCTS = Number(process.env.SLOW_EXPLAIN_PRODUCTS ?? 1_000_000);
const ORDERS = Math.round(PRODUCTS / 5);
const logger = createLogger({ level: 'warn', instance: 'explain-test', component: 'test' });

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

describe('list queries on 1,000,000 products', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let client: pg.Client;
  let largestCategory: number;
  let busiestCustomer: number;

  beforeAll(async () => {
    // SLOW_EXPLAIN_DATABASE_URL: a database this suite seeded and kept before (SLOW_EXPLAIN_KEEP=1), for quick reruns.
    const reuse = process.env.SLOW_EXPLAIN_DATABASE_URL;
    scratch = reuse ? { url: reuse, drop: async () => undefined } : await createScratchDatabase('explain');
    const started = performance.now();
    if (!reuse) await seedScratch(scratch.url);
    client = new pg.Client({ connectionString: scratch.url });
    await client.connect();
    // Index-only scans (the category counts) need the visibility map; autovacuum would get there later.
    await client.query('VACUUM ANALYZE products');
    await client.query('VACUUM ANALYZE orders');
    console.info(`explain suite: database ready in ${Math.round(performance.now() - started)} ms`);
    const category = await client.query<{ id: number }>(
      'SELECT category_id AS id FROM products WHERE active GROUP BY category_id ORDER BY count(*) DESC LIMIT 1',
    );
    largestCategory = category.rows[0]?.id as number;
    const customer = await client.query<{ id: number }>(
      'SELECT user_id AS id FROM orders GROUP BY user_id ORDER BY count(*) DESC LIMIT 1',
    );
    busiestCustomer = customer.rows[0]?.id as number;
  }, 900_000);

  async function seedScratch(url: string): Promise<void> {
    const started = performance.now();
    await migrate({ databaseUrl: url, dir: join(repoRoot, 'db/init'), lockTimeoutMs: 10_000, logger });
    const summary = await seed(
      loadSeedConfig({
        DATABASE_URL: scratch.url,
        API_TOKEN_PEPPER: stack().tokenPepper,
        SEED_PRODUCTS: String(PRODUCTS),
        SEED_CUSTOMERS: '2000',
        SEED_ORDERS: String(ORDERS),
        LOG_LEVEL: 'warn',
      }),
      logger,
    );
    console.info(
      `explain suite: migrated and seeded ${summary.products} products, ${summary.orders} orders in ${Math.round(performance.now() - started)} ms (seed ${summary.ms} ms)`,
    );
  }

  afterAll(async () => {
    await client?.end();
    // SLOW_EXPLAIN_KEEP=1 (with TEST_STACK_KEEP=1) leaves the database for a look with psql.
    if (process.env.SLOW_EXPLAIN_KEEP !== '1') await scratch?.drop();
    else console.info(`explain suite: kept ${scratch?.url}`);
  });

  async function explain(text: string, values: unknown[]): Promise<{ plan: PlanNode; ms: number; rows: number }> {
    const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number }] }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
      values,
    );
    const result = rows[0]?.['QUERY PLAN'][0];
    if (!result) throw new Error('no plan');
    const rowsOut = (result.Plan as PlanNode & { 'Actual Rows': number })['Actual Rows'];
    return { plan: result.Plan, ms: result['Execution Time'], rows: rowsOut };
  }

  /** No sequential scan of `table`, and at least one of `indexes` used on it. */
  function expectIndexed(plan: PlanNode, table: string, indexes: string[], label: string) {
    const all = nodes(plan);
    const scans = all.filter((node) => node['Relation Name'] === table || node['Index Name'] !== undefined);
    expect(
      all.filter((node) => node['Node Type'] === 'Seq Scan' && node['Relation Name'] === table),
      `${label}: sequential scan of ${table}`,
    ).toEqual([]);
    const used = scans.map((node) => node['Index Name']).filter((name): name is string => name !== undefined);
    expect(
      used.some((name) => indexes.includes(name)),
      `${label}: used ${JSON.stringify(used)}, expected one of ${indexes}`,
    ).toBe(true);
  }

  const byId = ['products_active_id_idx'];
  const byCategory = ['products_active_category_id_idx'];
  const bySearch = ['products_active_search_idx'];
  /** Label, filter, and the indexes acceptable for each query step the filter runs (plain list; or search window, then search index). */
  const cases: [string, () => ProductListFilter, string[][]][] = [
    ['first page', () => ({ limit: 20 }), [byId]],
    ['deep cursor page', () => ({ afterId: Math.round(PRODUCTS * 0.95), limit: 100 }), [byId]],
    ['largest category, first page', () => ({ categoryId: largestCategory, limit: 20 }), [byCategory]],
    // A big category is a fifth of all products: walking the id index from the cursor is as good as the category index.
    [
      'largest category, deep cursor page',
      () => ({ categoryId: largestCategory, afterId: Math.round(PRODUCTS * 0.95), limit: 100 }),
      [[...byCategory, ...byId]],
    ],
    ['price range', () => ({ minPriceCents: 1_000, maxPriceCents: 5_000, limit: 20 }), [byId]],
    ['text search, common word', () => ({ search: 'lamp', limit: 20 }), [byId, [...bySearch, ...byId]]],
    ['text search, two words', () => ({ search: 'walnut kettle', limit: 20 }), [byId, [...bySearch, ...byId]]],
    ['text search, no match', () => ({ search: 'xylophonequux', limit: 20 }), [byId, bySearch]],
    [
      'text search, deep cursor page',
      () => ({ search: 'copper lamp', afterId: Math.round(PRODUCTS * 0.9), limit: 20 }),
      [byId, [...bySearch, ...byId]],
    ],
    [
      'text search within a category and price range',
      () => ({ search: 'lamp', categoryId: largestCategory, minPriceCents: 500, maxPriceCents: 50_000, limit: 20 }),
      [
        [...byCategory, ...byId],
        [...bySearch, ...byCategory, ...byId],
      ],
    ],
  ];

  for (const [label, filter, indexesPerStep] of cases) {
    it(`when the product list is asked for the ${label}, then every query it runs uses an index, not a sequential scan`, async () => {
      const queries = productListQueries(filter());
      expect(queries).toHaveLength(indexesPerStep.length);
      for (const [index, query] of queries.entries()) {
        const { plan, ms, rows } = await explain(query.text, query.values);
        console.info(
          `explain ${label} [${query.step}]: ${ms.toFixed(2)} ms, ${rows} rows, ${nodes(plan)
            .map((n) => n['Index Name'] ?? n['Node Type'])
            .join(' > ')}`,
        );
        expectIndexed(plan, 'products', indexesPerStep[index] as string[], `${label} [${query.step}]`);
      }
    });
  }

  it('when categories are listed with their counts, then each count is an index-only scan, not a sequential scan', async () => {
    const { plan, ms } = await explain(CATEGORY_LIST_SQL, []);
    console.info(`explain category list: ${ms.toFixed(2)} ms`);
    expectIndexed(plan, 'products', ['products_active_category_id_idx'], 'category list');
    expect(nodes(plan).some((node) => node['Node Type'] === 'Index Only Scan')).toBe(true);
  });

  it("when a customer's orders are listed, first and deep pages, then orders_user_created_idx serves them", async () => {
    const first = orderListQuery(busiestCustomer, undefined, 20);
    const deep = orderListQuery(busiestCustomer, ['2025-09-01T00:00:00.000000Z', 1], 20);
    for (const [label, query] of [
      ['first page', first],
      ['deep page', deep],
    ] as const) {
      const { plan, ms } = await explain(query.text, query.values);
      console.info(`explain orders ${label}: ${ms.toFixed(2)} ms`);
      expectIndexed(plan, 'orders', ['orders_user_created_idx'], `orders ${label}`);
    }
  });
});
