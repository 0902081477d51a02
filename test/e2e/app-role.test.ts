/**
 * Least privilege (issue 11, finding 4): the api and the worker connect as `app_rw` through PgBouncer, and that role
 * may read and write rows and nothing else (db/roles.sql, db/init/008_app_role.sql). Native stack: its stack.env has
 * the app role's URLs (APP_DATABASE_URL through PgBouncer, APP_DATABASE_DIRECT_URL straight to Postgres).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeStack } from '../support/stack.js';

const appUrl = () => nativeStack().env.appDatabaseUrl;

async function sqlState(client: pg.Client, sql: string): Promise<string | undefined> {
  try {
    await client.query(sql);
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe('the app role (app_rw)', () => {
  let app: pg.Client;
  let owner: pg.Client;

  beforeAll(async () => {
    app = new pg.Client({ connectionString: appUrl(), application_name: 'app-role-test' });
    owner = new pg.Client({ connectionString: nativeStack().env.databaseUrl, application_name: 'app-role-test' });
    await Promise.all([app.connect(), owner.connect()]);
  });

  afterAll(async () => {
    await Promise.all([app?.end(), owner?.end()]);
  });

  it('when it tries DDL, TRUNCATE or the password catalog, then Postgres refuses (insufficient_privilege)', async () => {
    expect(await sqlState(app, 'DROP TABLE products')).toBe('42501');
    expect(await sqlState(app, 'SELECT rolname, rolpassword FROM pg_authid')).toBe('42501');
    expect(await sqlState(app, 'TRUNCATE orders')).toBe('42501');
    expect(await sqlState(app, 'CREATE TABLE app_role_probe (id int)')).toBe('42501');
    expect(await sqlState(app, 'ALTER TABLE products ADD COLUMN probe int')).toBe('42501');
    expect(await sqlState(app, 'DELETE FROM schema_migrations')).toBe('42501');
    const { rows } = await app.query<{ rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean }>(
      'SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user',
    );
    expect(rows).toEqual([{ rolsuper: false, rolcreaterole: false, rolcreatedb: false }]);
  });

  it('when it writes rows, then it may: insert, update, select and delete through PgBouncer', async () => {
    const slug = `role-${randomBytes(5).toString('hex')}`;
    await app.query('INSERT INTO categories (slug, name) VALUES ($1, $2)', [slug, 'Role probe']);
    await app.query('UPDATE categories SET name = $2 WHERE slug = $1', [slug, 'Role probe 2']);
    const { rows } = await app.query<{ name: string }>('SELECT name FROM categories WHERE slug = $1', [slug]);
    expect(rows).toEqual([{ name: 'Role probe 2' }]);
    expect((await app.query('DELETE FROM categories WHERE slug = $1', [slug])).rowCount).toBe(1);
  });

  it('when a later migration (the owner) creates a table, then the default privileges give app_rw its rows', async () => {
    const table = `role_probe_${randomBytes(4).toString('hex')}`;
    await owner.query(`CREATE TABLE ${table} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text)`);
    try {
      const { rows } = await app.query<{ id: number }>(`INSERT INTO ${table} (note) VALUES ('x') RETURNING id`);
      expect(rows).toHaveLength(1);
      expect(await sqlState(app, `DROP TABLE ${table}`)).toBe('42501');
    } finally {
      await owner.query(`DROP TABLE ${table}`);
    }
  });

  it('when a session starts through PgBouncer, then its guards come from the role (transaction pooling drops startup parameters)', async () => {
    const { rows } = await app.query<{ statement: string; idle: string }>(
      `SELECT current_setting('statement_timeout') AS statement,
              current_setting('idle_in_transaction_session_timeout') AS idle`,
    );
    expect(rows).toEqual([{ statement: '5s', idle: '10s' }]);
    // Enforced, not only shown: a statement past 5 s is cancelled (query_canceled).
    expect(await sqlState(app, 'SELECT pg_sleep(6)')).toBe('57014');
  }, 15_000);

  it('when the stack runs, then api and worker sessions are app_rw and the relay listens on a direct connection', async () => {
    // The superuser: other roles' query texts are hidden from the owner.
    const admin = new pg.Client({ connectionString: nativeStack().env.databaseAdminUrl });
    await admin.connect();
    const { rows } = await admin
      .query<{ usename: string; application_name: string; query: string }>(
        `SELECT usename, application_name, query FROM pg_stat_activity
          WHERE datname = current_database() AND application_name ~ '^(api|worker)-'`,
      )
      .finally(() => admin.end());
    expect(rows.length).toBeGreaterThan(0);
    expect(new Set(rows.map((row) => row.usename))).toEqual(new Set(['app_rw']));
    // PgBouncer's server connections carry no LISTEN; the relay's own connection does, under its own name.
    expect(rows.filter((row) => row.query === 'LISTEN outbox_events').map((row) => row.application_name)).toEqual(
      nativeStack().env.workers.map((worker) => `${worker.name}-outbox-listener`),
    );
  });
});
