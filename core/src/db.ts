import pg from 'pg';
import type { Logger } from './logger.js';
import type { PostgresConfig } from './config.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// int8 (bigint ids, count(*)) as JavaScript numbers: ours stay far below 2^53. Set per pool, not
// globally, so no other user of `pg` in the process is surprised.
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * The one Postgres pool of a process, usually to PgBouncer (README "Connection budget": (api replicas + workers) x
 * PG_POOL_MAX client connections share PgBouncer's few server connections). No session state: with transaction
 * pooling each transaction may run on another server connection, so statement_timeout and
 * idle_in_transaction_session_timeout come from the role (db/roles.sql) and SET is only ever SET LOCAL.
 */
export function createPool(config: PostgresConfig, logger: Logger): Pool {
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: config.PG_POOL_MAX,
    connectionTimeoutMillis: config.PG_CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    application_name: config.INSTANCE_NAME,
    types,
  });
  // An idle client losing its connection (Postgres restart) emits 'error' on the pool; unhandled, it
  // would crash the process. The pool drops that client and the next query opens a new one.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle Postgres connection lost'));
  // The pool listens only on idle clients: a checked-out client (a transaction in progress) whose connection ends
  // emits 'error' with nobody listening, which crashed an api replica at every few Postgres restarts under load
  // (found by the chaos run, docs/chaos.md). Its query fails with the error as well, which the caller sees and
  // answers (503); the client is not reused (the pool drops a released client whose connection is gone).
  pool.on('connect', (client) => {
    client.on('error', (error) => logger.warn({ err: error }, 'Postgres connection lost during a checkout'));
  });
  return pool;
}

/** A pool, or one client of it (in a transaction of the caller's): what domain functions that may join a transaction take. */
export type Queryable = Pool | PoolClient;

/**
 * Runs `work` in a transaction on one client; rolls back on any error and always releases the client.
 * Given a client instead of the pool, the caller owns the transaction (an audited admin action: its audit row
 * commits or rolls back with the action, core/src/audit/audit-log.ts): `work` runs in a savepoint of it, so a
 * failure undoes `work` alone and the caller decides.
 */
export async function withTransaction<T>(db: Queryable, work: (client: PoolClient) => Promise<T>): Promise<T> {
  if (!(db instanceof pg.Pool)) return bracketed(db, work, NESTED);
  const client = await db.connect();
  try {
    return await bracketed(client, work, TOP_LEVEL);
  } finally {
    client.release();
  }
}

interface Bracket {
  begin: string;
  commit: string;
  rollback: string;
}

const TOP_LEVEL: Bracket = { begin: 'BEGIN', commit: 'COMMIT', rollback: 'ROLLBACK' };
// Outside a transaction Postgres refuses SAVEPOINT, so a client without one cannot run `work` unguarded.
const NESTED: Bracket = {
  begin: 'SAVEPOINT nested_work',
  commit: 'RELEASE SAVEPOINT nested_work',
  rollback: 'ROLLBACK TO SAVEPOINT nested_work',
};

async function bracketed<T>(client: PoolClient, work: (client: PoolClient) => Promise<T>, sql: Bracket): Promise<T> {
  await client.query(sql.begin);
  try {
    const result = await work(client);
    await client.query(sql.commit);
    return result;
  } catch (error) {
    await client.query(sql.rollback).catch(() => undefined);
    throw error;
  }
}
