/**
 * Runs one catalog import (worker side): reads the stored file chunk by chunk, parses it as a stream,
 * validates each row, and upserts valid rows in batches of `batchRows` (one multi-row statement per
 * batch). Memory is bounded by a chunk plus a batch, whatever the file size.
 *
 * Idempotent: a product is keyed by its SKU and an upsert that would change nothing writes nothing
 * (`updated_at` stays), so running an import again - a retry after the worker was killed, or the same
 * file uploaded twice - changes nothing the second time. Row errors are keyed by (import, line).
 *
 * Not atomic: batches commit as they go, so when the file is unreadable from some line on, the rows
 * before it stay applied. Fix the file and import it again.
 */
import type { CatalogInvalidator } from '../cache/catalog-invalidator.js';
import type { Pool } from '../db.js';
import { youngGarbageCollector } from './buffer-garbage.js';
import { ImportFileError, parseImportFile, type ImportFormat } from './parse.js';
import { IMPORT_COLUMNS, validateImportRow, type ImportRow } from './rows.js';
import { readImportFile, type ImportRowError } from './storage.js';

const PARSE_SLICE_BYTES = 64 * 1024;

export interface RunImportOptions {
  batchRows: number;
  /** Row errors stored per import; further ones are only counted. */
  maxStoredErrors: number;
  /** Called with 0..100 whenever the whole-number percentage moves. */
  onProgress?: (percent: number) => Promise<void> | void;
}

export interface ImportDeps {
  pool: Pool;
  /** Told once the import has changed products, as every catalog write tells it. */
  catalog: CatalogInvalidator;
}

export type RunImportResult =
  | { outcome: 'completed'; rowsTotal: number; rowsApplied: number; rowsFailed: number }
  | { outcome: 'skipped'; reason: string };

interface Counts {
  total: number;
  applied: number;
  failed: number;
}

export async function runImport(
  deps: ImportDeps,
  importId: string,
  options: RunImportOptions,
): Promise<RunImportResult> {
  const { pool } = deps;
  const { rows: claimed } = await pool.query<{ format: ImportFormat; file_bytes: number }>(
    `UPDATE imports SET status = 'running', progress = 0, rows_total = 0, rows_applied = 0, rows_failed = 0,
            error = NULL, started_at = now()
      WHERE id = $1 AND status <> 'completed'
      RETURNING format, file_bytes`,
    [importId],
  );
  const claim = claimed[0];
  if (!claim) return { outcome: 'skipped', reason: 'import unknown or already completed' };
  // This run reports its own errors; a previous, interrupted run's are replaced.
  await pool.query(`DELETE FROM import_errors WHERE import_id = $1`, [importId]);

  const counts: Counts = { total: 0, applied: 0, failed: 0 };
  const categories = new Map<string, number | null>();
  let bytesRead = 0;
  let lastPercent = -1;
  let batch: { line: number; row: ImportRow }[] = [];
  let errors: ImportRowError[] = [];

  // The parser reads ahead by one piece and parses it whole: feeding it small slices of each stored
  // chunk keeps that read-ahead (and the records it buffers) small, and the progress by bytes exact.
  const collect = youngGarbageCollector();
  const source = (async function* () {
    for await (const chunk of readImportFile(pool, importId)) {
      collect(chunk.length);
      for (let offset = 0; offset < chunk.length; offset += PARSE_SLICE_BYTES) {
        const slice = chunk.subarray(offset, offset + PARSE_SLICE_BYTES);
        bytesRead += slice.length;
        yield slice;
      }
    }
  })();

  // Writes one parsed batch: upsert, its errors, progress. Batches are written one at a time and in order.
  let errorsWritten = 0;
  const writeBatch = async (rows: typeof batch, rowErrors: ImportRowError[], total: number, read: number) => {
    const rejected = await upsertBatch(pool, rows, categories);
    counts.applied += rows.length - rejected.length;
    counts.failed += rejected.length;
    rowErrors.push(...rejected);
    // Counted from written batches only: the parser is already counting the next one.
    await storeErrors(pool, importId, rowErrors, errorsWritten, options.maxStoredErrors);
    errorsWritten += rowErrors.length;
    const percent = claim.file_bytes === 0 ? 99 : Math.min(99, Math.floor((read / claim.file_bytes) * 100));
    await pool.query(
      `UPDATE imports SET progress = $2, rows_total = $3, rows_applied = $4, rows_failed = $5 WHERE id = $1`,
      [importId, percent, total, counts.applied, errorsWritten],
    );
    if (percent !== lastPercent) {
      lastPercent = percent;
      await options.onProgress?.(percent);
    }
  };

  // The parser fills the next batch while the previous one is written: the worker's CPU and Postgres
  // overlap instead of taking turns (measured in make bench: the worker sat idle 80 % of an import).
  // At most one batch is in flight, so memory stays bounded and batches still apply in file order.
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async () => {
    await inFlight;
    const rows = batch;
    const rowErrors = errors;
    batch = [];
    errors = [];
    inFlight = writeBatch(rows, rowErrors, counts.total, bytesRead);
    // Handled here so a failure while parsing goes on is not an unhandled rejection; the next await rethrows it.
    inFlight.catch(() => undefined);
  };

  for await (const parsed of parseImportFile(source, claim.format, IMPORT_COLUMNS)) {
    counts.total += 1;
    if (parsed.error !== undefined) {
      counts.failed += 1;
      errors.push({ line: parsed.line, reason: parsed.error });
    } else {
      const result = validateImportRow(parsed.record);
      if ('error' in result) {
        counts.failed += 1;
        errors.push({ line: parsed.line, reason: result.error });
      } else {
        batch.push({ line: parsed.line, row: result.row });
      }
    }
    if (batch.length >= options.batchRows || errors.length >= options.batchRows) await flush();
  }
  await flush();
  await inFlight;

  await pool.query(
    `WITH done AS (
       UPDATE imports SET status = 'completed', progress = 100, rows_total = $2, rows_applied = $3, rows_failed = $4,
              completed_at = now()
        WHERE id = $1)
     DELETE FROM import_chunks WHERE import_id = $1`,
    [importId, counts.total, counts.applied, counts.failed],
  );
  await options.onProgress?.(100);
  // Fail open: with the cache Redis down the import still completes; cached pages then expire by TTL.
  if (counts.applied > 0) await deps.catalog.catalogChanged();
  return { outcome: 'completed', rowsTotal: counts.total, rowsApplied: counts.applied, rowsFailed: counts.failed };
}

/** Marks an import failed for good and frees its stored file. */
export async function markImportFailed(pool: Pool, importId: string, message: string): Promise<void> {
  await pool.query(
    `WITH failed AS (
       UPDATE imports SET status = 'failed', error = $2 WHERE id = $1 AND status <> 'completed')
     DELETE FROM import_chunks WHERE import_id = $1`,
    [importId, message.slice(0, 1_000)],
  );
}

export { ImportFileError };

/**
 * Upserts one batch. Rows naming an unknown category are returned as errors; within a batch the last
 * row of a SKU wins (one statement may not touch a row twice), as it would across batches.
 */
async function upsertBatch(
  pool: Pool,
  batch: { line: number; row: ImportRow }[],
  categories: Map<string, number | null>,
): Promise<ImportRowError[]> {
  if (batch.length === 0) return [];
  const unknownSlugs = [...new Set(batch.map((item) => item.row.category))].filter((slug) => !categories.has(slug));
  if (unknownSlugs.length > 0) {
    const { rows } = await pool.query<{ id: number; slug: string }>(
      `SELECT id, slug FROM categories WHERE slug = ANY($1::text[])`,
      [unknownSlugs],
    );
    for (const slug of unknownSlugs) categories.set(slug, null);
    for (const row of rows) categories.set(row.slug, row.id);
  }

  const rejected: ImportRowError[] = [];
  const bySku = new Map<string, { row: ImportRow; categoryId: number }>();
  for (const { line, row } of batch) {
    const categoryId = categories.get(row.category);
    if (categoryId == null) rejected.push({ line, reason: `category: no category with slug "${row.category}"` });
    else bySku.set(row.sku, { row, categoryId });
  }
  if (bySku.size === 0) return rejected;

  const items = [...bySku.values()];
  await pool.query(
    `INSERT INTO products (sku, category_id, name, description, price_cents, stock, active)
     SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::int[], $7::bool[])
     ON CONFLICT (sku) DO UPDATE
        SET category_id = EXCLUDED.category_id, name = EXCLUDED.name, description = EXCLUDED.description,
            price_cents = EXCLUDED.price_cents, stock = EXCLUDED.stock, active = EXCLUDED.active, updated_at = now()
      WHERE (products.category_id, products.name, products.description, products.price_cents, products.stock,
             products.active)
            IS DISTINCT FROM
            (EXCLUDED.category_id, EXCLUDED.name, EXCLUDED.description, EXCLUDED.price_cents, EXCLUDED.stock,
             EXCLUDED.active)`,
    [
      items.map((item) => item.row.sku),
      items.map((item) => item.categoryId),
      items.map((item) => item.row.name),
      items.map((item) => item.row.description),
      items.map((item) => item.row.price_cents),
      items.map((item) => item.row.stock),
      items.map((item) => item.row.active),
    ],
  );
  return rejected;
}

/** Stores row errors up to the cap; `storedBefore` is how many earlier errors exist. */
async function storeErrors(
  pool: Pool,
  importId: string,
  errors: ImportRowError[],
  storedBefore: number,
  maxStored: number,
): Promise<void> {
  const room = Math.max(0, maxStored - storedBefore);
  const kept = errors.slice(0, room);
  if (kept.length === 0) return;
  await pool.query(
    `INSERT INTO import_errors (import_id, line, reason)
     SELECT $1, line, reason FROM unnest($2::int[], $3::text[]) AS e (line, reason)
     ON CONFLICT (import_id, line) DO NOTHING`,
    [importId, kept.map((error) => error.line), kept.map((error) => error.reason.slice(0, 500))],
  );
}
