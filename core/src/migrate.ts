/**
 * The migration runner behind `make migrate`: applies the numbered SQL files of db/init in order.
 *
 * - Each applied file is recorded in `schema_migrations` with a SHA-256 of its bytes; an applied file
 *   that was edited afterwards is refused (add a new file instead).
 * - Nothing pending: no-op. Two runners at once: a session advisory lock serializes them, and the
 *   second finds the files already recorded.
 * - A file is applied in one transaction with its record, so a failure leaves nothing half done.
 *   A file whose first line is `-- migrate:no-transaction` runs statement by statement outside a
 *   transaction: that is how `CREATE INDEX CONCURRENTLY` builds an index on a large table without
 *   blocking writes (it cannot run inside a transaction block).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import type { Logger } from './logger.js';

/** Arbitrary but fixed: the key every runner locks on. */
const MIGRATION_LOCK_KEY = 727_100_001;
const FILE_PATTERN = /^(\d{3,})_[a-z0-9_-]+\.sql$/;
const NO_TRANSACTION_MARKER = '-- migrate:no-transaction';

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

export async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.sql')).sort();
  const files: MigrationFile[] = [];
  const seenNumbers = new Map<string, string>();
  for (const name of names) {
    const match = FILE_PATTERN.exec(name);
    if (!match?.[1]) {
      throw new MigrationError(`${join(dir, name)}: migration files are named NNN_lowercase_name.sql`);
    }
    const other = seenNumbers.get(match[1]);
    if (other) throw new MigrationError(`${name} and ${other} share the number ${match[1]}`);
    seenNumbers.set(match[1], name);
    const sql = await readFile(join(dir, name), 'utf8');
    files.push({ name, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return files;
}

export async function migrate(options: {
  databaseUrl: string;
  dir: string;
  lockTimeoutMs: number;
  logger: Logger;
}): Promise<MigrateResult> {
  const { logger } = options;
  const files = await readMigrations(options.dir);
  const client = new pg.Client({ connectionString: options.databaseUrl, application_name: 'migrate' });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    // DDL waits for locks held by live traffic; a bounded wait fails the run instead of queueing
    // every other query on the table behind it.
    await client.query(`SET lock_timeout = ${Number(options.lockTimeoutMs)}`);
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migrations (
        filename    text PRIMARY KEY,
        checksum    text NOT NULL,
        applied_at  timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query<{ filename: string; checksum: string }>(
      'SELECT filename, checksum FROM schema_migrations',
    );
    const applied = new Map(rows.map((row) => [row.filename, row.checksum]));

    for (const file of files) {
      const recorded = applied.get(file.name);
      if (recorded !== undefined && recorded !== file.checksum) {
        throw new MigrationError(
          `${file.name} was edited after it was applied (recorded checksum ${recorded.slice(0, 12)}, ` +
            `file now ${file.checksum.slice(0, 12)}). Applied migrations never change: restore the file ` +
            'and put the change in a new numbered file.',
        );
      }
    }
    const known = new Set(files.map((file) => file.name));
    for (const name of applied.keys()) {
      if (!known.has(name)) logger.warn({ migration: name }, 'applied migration has no file in the migrations folder');
    }

    const result: MigrateResult = { applied: [], alreadyApplied: 0 };
    for (const file of files) {
      if (applied.has(file.name)) {
        result.alreadyApplied += 1;
        continue;
      }
      const started = performance.now();
      if (file.sql.startsWith(NO_TRANSACTION_MARKER)) {
        await applyOutsideTransaction(client, file);
      } else {
        await applyInTransaction(client, file);
      }
      result.applied.push(file.name);
      logger.info({ migration: file.name, ms: Math.round(performance.now() - started) }, 'migration applied');
    }
    return result;
  } finally {
    // Ending the session releases the advisory lock too, even if unlock was never reached.
    await client.end().catch(() => undefined);
  }
}

async function applyInTransaction(client: pg.Client, file: MigrationFile): Promise<void> {
  try {
    await client.query('BEGIN');
    await client.query(file.sql);
    await client.query('INSERT INTO schema_migrations (filename, checksum) VALUES ($1, $2)', [
      file.name,
      file.checksum,
    ]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new MigrationError(`${file.name} failed and was rolled back: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * One statement at a time (a multi-statement string is an implicit transaction). Statements end with
 * `;` at the end of a line. Write them idempotently (`IF NOT EXISTS`): if one fails, the file is not
 * recorded and the next run repeats it. A failed CREATE INDEX CONCURRENTLY leaves an INVALID index;
 * drop it (`DROP INDEX CONCURRENTLY`) before the rerun.
 */
async function applyOutsideTransaction(client: pg.Client, file: MigrationFile): Promise<void> {
  const statements = file.sql
    .split(/;\s*$/m)
    .map((statement) => statement.replace(/^\s*--.*$/gm, '').trim())
    .filter((statement) => statement.length > 0);
  for (const statement of statements) {
    try {
      await client.query(statement);
    } catch (error) {
      throw new MigrationError(`${file.name} failed at: ${statement.slice(0, 120)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  await client.query('INSERT INTO schema_migrations (filename, checksum) VALUES ($1, $2)', [file.name, file.checksum]);
}
