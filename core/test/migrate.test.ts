import { cpSync, mkdtempSync, readdirSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSeedConfig } from '../src/config.js';
import { listCategories } from '../src/catalog/categories.js';
import { createLogger } from '../src/logger.js';
import { migrate, MigrationError } from '../src/migrate.js';
import { seed } from '../src/seed/seed.js';
import { createScratchDatabase, repoRoot } from '../../test/support/stack.js';

const logger = createLogger({ level: 'silent', instance: 'test', component: 'migrate-test' });
const migrationsDir = join(repoRoot, 'db', 'init');
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function scratch(): Promise<string> {
  const database = await createScratchDatabase('migrate');
  cleanups.push(database.drop);
  return database.url;
}

function copyOfMigrations(): string {
  const dir = mkdtempSync(join(tmpdir(), 'migrations-'));
  cpSync(migrationsDir, dir, { recursive: true });
  return dir;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

const schemaShape = (url: string) =>
  query(
    url,
    `SELECT table_name, column_name, data_type FROM information_schema.columns
      WHERE table_schema = 'public' ORDER BY table_name, column_name`,
  );

describe('migrations', () => {
  it('when applied twice, then the second run applies nothing and changes nothing', async () => {
    const url = await scratch();
    const files = readdirSync(migrationsDir).filter((name) => name.endsWith('.sql'));
    const first = await migrate({ databaseUrl: url, dir: migrationsDir, lockTimeoutMs: 5_000, logger });
    expect(first.applied).toEqual(files.sort());
    const shapeAfterFirst = await schemaShape(url);
    const recordsAfterFirst = await query(
      url,
      'SELECT filename, checksum, applied_at FROM schema_migrations ORDER BY 1',
    );

    const second = await migrate({ databaseUrl: url, dir: migrationsDir, lockTimeoutMs: 5_000, logger });
    expect(second).toEqual({ applied: [], alreadyApplied: files.length });
    expect(await schemaShape(url)).toEqual(shapeAfterFirst);
    expect(await query(url, 'SELECT filename, checksum, applied_at FROM schema_migrations ORDER BY 1')).toEqual(
      recordsAfterFirst,
    );
  });

  it('when two runners start at once, then each file is applied exactly once', async () => {
    const url = await scratch();
    const runs = await Promise.all(
      [1, 2].map(() => migrate({ databaseUrl: url, dir: migrationsDir, lockTimeoutMs: 5_000, logger })),
    );
    const appliedByBoth = runs.flatMap((run) => run.applied).sort();
    expect(appliedByBoth).toEqual(
      readdirSync(migrationsDir)
        .filter((name) => name.endsWith('.sql'))
        .sort(),
    );
    const counts = await query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM schema_migrations');
    expect(counts[0]?.n).toBe(appliedByBoth.length);
  });

  it('when an applied file was edited, then the run is refused with a message naming it', async () => {
    const url = await scratch();
    const dir = copyOfMigrations();
    await migrate({ databaseUrl: url, dir, lockTimeoutMs: 5_000, logger });
    appendFileSync(join(dir, '002_users.sql'), '\n-- a later edit\n');

    const refusal = migrate({ databaseUrl: url, dir, lockTimeoutMs: 5_000, logger });
    await expect(refusal).rejects.toThrow(MigrationError);
    await expect(refusal).rejects.toThrow(/002_users\.sql was edited after it was applied/);
  });

  it('when a new file fails, then it is rolled back and not recorded, and earlier files stay applied', async () => {
    const url = await scratch();
    const dir = copyOfMigrations();
    writeFileSync(join(dir, '900_broken.sql'), 'CREATE TABLE half_done (id int);\nSELECT no_such_function();\n');

    await expect(migrate({ databaseUrl: url, dir, lockTimeoutMs: 5_000, logger })).rejects.toThrow(
      /900_broken\.sql failed and was rolled back/,
    );
    const tables = await query<{ name: string | null }>(url, `SELECT to_regclass('half_done')::text AS name`);
    expect(tables[0]?.name).toBeNull();
    const recorded = await query<{ filename: string }>(url, 'SELECT filename FROM schema_migrations ORDER BY 1');
    expect(recorded.map((row) => row.filename)).not.toContain('900_broken.sql');
    expect(recorded.length).toBeGreaterThan(0);
  });

  it('when a file is marked no-transaction, then CREATE INDEX CONCURRENTLY runs (no write-blocking index build)', async () => {
    const url = await scratch();
    const dir = copyOfMigrations();
    writeFileSync(
      join(dir, '900_concurrent_index.sql'),
      '-- migrate:no-transaction\n-- built without blocking writes\n' +
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS products_price_idx ON products (price_cents);\n',
    );
    const result = await migrate({ databaseUrl: url, dir, lockTimeoutMs: 5_000, logger });
    expect(result.applied).toContain('900_concurrent_index.sql');
    const indexes = await query<{ valid: boolean }>(
      url,
      `SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'products_price_idx'::regclass`,
    );
    expect(indexes).toEqual([{ valid: true }]);
  });

  it('when the schema is migrated, then the seed and the catalog queries run on it', async () => {
    const url = await scratch();
    await migrate({ databaseUrl: url, dir: migrationsDir, lockTimeoutMs: 5_000, logger });
    const config = loadSeedConfig({
      DATABASE_URL: url,
      API_TOKEN_PEPPER: 'p'.repeat(32),
      SEED_PRODUCTS: '2000',
      SEED_CUSTOMERS: '50',
      SEED_ORDERS: '300',
      DEV_ADMIN_TOKEN: 'stk_admin_token_for_tests_0000000000',
    });
    const summary = await seed(config, logger);
    expect(summary).toMatchObject({ products: 2000, customers: 50, orders: 300 });

    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      const categories = await listCategories(pool);
      expect(categories.reduce((sum, category) => sum + Number(category.productCount), 0)).toBeGreaterThan(1_600);
    } finally {
      await pool.end();
    }
    const [totals] = await query<{ mismatched: number }>(
      url,
      `SELECT count(*)::int AS mismatched FROM orders o
        WHERE total_cents <> (SELECT sum(quantity * unit_price_cents) FROM order_items i WHERE i.order_id = o.id)`,
    );
    expect(totals?.mismatched).toBe(0);
  });
});
