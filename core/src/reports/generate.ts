/**
 * Sales report generation (worker side). Postgres groups the orders in range (GROUP BY, set-based) and
 * the grouped rows come back through a server-side cursor in batches, in key order; each batch is
 * rendered to CSV and appended to the report's pieces in `report_chunks` (~1 MiB each). So memory holds
 * one batch and one piece whatever the number of orders or groups: a report of a million rows (one per
 * product) costs what a small one does. The run is idempotent: a retry (say, after the worker was
 * killed) starts over in a new transaction, replacing the pieces of the attempt before, so a report
 * exists once whatever happened.
 */
import type { Pool, PoolClient } from '../db.js';
import { youngGarbageCollector } from '../imports/buffer-garbage.js';
import { csvLine } from './csv.js';
import { reportParamsSchema, type ReportGrouping, type ReportParams } from './reports.js';

export interface GenerateReportOptions {
  /** Rows (groups) per FETCH from the cursor. */
  batchRows: number;
  /** Called with 0..100 whenever the whole-number percentage moves (after `reports.progress` is saved). */
  onProgress?: (percent: number) => Promise<void> | void;
}

export type GenerateReportResult = { outcome: 'completed'; rowCount: number } | { outcome: 'skipped'; reason: string };

/** A single report may read for a while; the pool's short statement timeout is for api requests. */
const REPORT_STATEMENT_TIMEOUT = '120s';

/** Bytes of CSV per stored piece (a batch bigger than this is a piece of its own). */
export const REPORT_CHUNK_BYTES = 1024 * 1024;

/** Runs the report `reportId` to completion; a report already completed (or unknown) is skipped. */
export async function generateReport(
  pool: Pool,
  reportId: string,
  options: GenerateReportOptions,
): Promise<GenerateReportResult> {
  const { rows: claimed } = await pool.query<{ params: unknown }>(
    `UPDATE reports SET status = 'running', progress = 0, error = NULL, started_at = now()
      WHERE id = $1 AND status <> 'completed'
      RETURNING params`,
    [reportId],
  );
  if (!claimed[0]) return { outcome: 'skipped', reason: 'report unknown or already completed' };
  const params = reportParamsSchema.parse(claimed[0].params);

  // Progress goes to the row the api reads, then to whoever listens (the job, for bull-board).
  const progress = async (percent: number) => {
    await pool.query(`UPDATE reports SET progress = $2 WHERE id = $1 AND status = 'running'`, [reportId, percent]);
    await options.onProgress?.(percent);
  };
  const client = await pool.connect();
  let written: { rowCount: number; bytes: number };
  try {
    // One snapshot for the count and the cursor, so the progress total and the rows agree. The pieces
    // commit together: a download never sees part of a report.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await client.query(`SET LOCAL statement_timeout = '${REPORT_STATEMENT_TIMEOUT}'`);
    await client.query(`DELETE FROM report_chunks WHERE report_id = $1`, [reportId]);
    written = await writeReportCsv(client, reportId, params, options.batchRows, progress);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }

  await pool.query(
    `UPDATE reports SET status = 'completed', progress = 100, row_count = $2, result_bytes = $3, completed_at = now()
      WHERE id = $1`,
    [reportId, written.rowCount, written.bytes],
  );
  await options.onProgress?.(100);
  return { outcome: 'completed', rowCount: written.rowCount };
}

/** Marks a report failed for good (its job has no attempts left or can never succeed). */
export async function markReportFailed(pool: Pool, reportId: string, message: string): Promise<void> {
  await pool.query(`UPDATE reports SET status = 'failed', error = $2 WHERE id = $1 AND status <> 'completed'`, [
    reportId,
    message.slice(0, 1_000),
  ]);
}

/** Each grouping's key (an SQL expression over the order row `o`, its item `oi`, the product `p`) and its CSV columns. */
const GROUPINGS: Record<ReportGrouping, { key: string; names?: { table: string; code: string }; header: string[] }> = {
  day: { key: `to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`, header: ['day'] },
  week: { key: `to_char(date_trunc('week', o.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`, header: ['week'] },
  month: { key: `to_char(date_trunc('month', o.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`, header: ['month'] },
  product: {
    key: `oi.product_id`,
    names: { table: 'products', code: 'sku' },
    header: ['product_id', 'sku', 'name'],
  },
  category: {
    key: `p.category_id`,
    names: { table: 'categories', code: 'slug' },
    header: ['category_id', 'slug', 'name'],
  },
};

function rangeOf(params: ReportParams): [string, string] {
  const end = new Date(Date.parse(params.to) + 86_400_000).toISOString().slice(0, 10);
  return [`${params.from}T00:00:00Z`, `${end}T00:00:00Z`];
}

interface GroupRow {
  key: string | number;
  code?: string | null;
  name?: string | null;
  orders: number;
  items: number;
  revenue: number;
  /** Order lines folded into this group and every group before it: the progress. */
  lines_through: number;
}

/**
 * The grouped rows in key order: orders (each counted once per group), units and revenue per group.
 * Cancelled and expired orders are not sales (their stock went back). The product join is only needed
 * to group by category; names are joined once per group, after grouping.
 */
function groupedRowsSql(groupBy: ReportGrouping): { count: string; cursor: string } {
  const grouping = GROUPINGS[groupBy];
  const from = `FROM orders o
    JOIN order_items oi ON oi.order_id = o.id
    ${groupBy === 'category' ? 'JOIN products p ON p.id = oi.product_id' : ''}
    WHERE o.created_at >= $1 AND o.created_at < $2 AND o.status NOT IN ('cancelled', 'expired')`;
  const names = grouping.names;
  return {
    count: `SELECT count(*) AS total ${from}`,
    cursor: `
      WITH grouped AS (
        SELECT ${grouping.key} AS key, count(DISTINCT o.id) AS orders, sum(oi.quantity)::bigint AS items,
               sum(oi.quantity::bigint * oi.unit_price_cents)::bigint AS revenue, count(*) AS lines
          ${from}
         GROUP BY 1)
      SELECT g.key, ${names ? `n.${names.code} AS code, n.name,` : ''} g.orders, g.items, g.revenue,
             (sum(g.lines) OVER (ORDER BY g.key ROWS UNBOUNDED PRECEDING))::bigint AS lines_through
        FROM grouped g ${names ? `LEFT JOIN ${names.table} n ON n.id = g.key` : ''}
       ORDER BY g.key`,
  };
}

/**
 * Streams the grouped rows into `report_chunks` as CSV (header first), on the caller's transaction.
 * Returns the data rows and bytes written.
 */
async function writeReportCsv(
  client: PoolClient,
  reportId: string,
  params: ReportParams,
  batchRows: number,
  onProgress: (percent: number) => Promise<void>,
): Promise<{ rowCount: number; bytes: number }> {
  const range = rangeOf(params);
  const sql = groupedRowsSql(params.groupBy);
  const { rows: countRows } = await client.query<{ total: number }>(sql.count, range);
  const total = countRows[0]?.total ?? 0;
  await client.query(`DECLARE report_rows NO SCROLL CURSOR FOR ${sql.cursor}`, range);

  const pieces = new ChunkWriter(client, reportId);
  await pieces.write(csvLine([...GROUPINGS[params.groupBy].header, 'orders', 'items', 'revenue_cents']));
  const named = GROUPINGS[params.groupBy].names !== undefined;
  // A young-generation collection after each batch, once its rows and text are garbage: survivors are then
  // few, so V8 does not keep growing its young generation (to 128 MiB of RSS for a million-row report
  // without this; a collection of a nearly empty young generation takes a fraction of a millisecond).
  const collectBatch = youngGarbageCollector(1);
  let rowCount = 0;
  let lastPercent = -1;
  for (;;) {
    const batch = await writeBatch(client, pieces, batchRows, named);
    collectBatch(batch.rows);
    rowCount += batch.rows;
    const linesThrough = batch.linesThrough ?? total;
    const percent = total === 0 ? 99 : Math.min(99, Math.floor((linesThrough / total) * 100));
    if (percent !== lastPercent) {
      lastPercent = percent;
      await onProgress(percent);
    }
    if (batch.rows < batchRows) break;
  }
  await client.query('CLOSE report_rows');
  const bytes = await pieces.finish();
  return { rowCount, bytes };
}

/** Fetches one batch of grouped rows and writes it as CSV; only counts leave it, so the rows die with its frame. */
async function writeBatch(
  client: PoolClient,
  pieces: ChunkWriter,
  batchRows: number,
  named: boolean,
): Promise<{ rows: number; linesThrough: number | undefined }> {
  const { rows } = await client.query<GroupRow>(`FETCH ${batchRows} FROM report_rows`);
  const lines = rows.map((row) => {
    const amounts = [row.orders, row.items, row.revenue];
    return csvLine(named ? [row.key, row.code ?? '', row.name ?? '', ...amounts] : [row.key, ...amounts]);
  });
  await pieces.write(lines.join(''));
  return { rows: rows.length, linesThrough: rows.at(-1)?.lines_through };
}

/**
 * Stores CSV as numbered pieces of up to REPORT_CHUNK_BYTES. Each batch's text is written into one reused
 * Buffer at once, so no string outlives its batch: strings kept across batches would be promoted to
 * V8's old generation and, garbage a moment later, wait there for a full collection (measured: +185 MiB
 * of worker RSS for a 40 MiB report when the lines were kept until a piece was full). The copies pg makes
 * to send a piece are collected young (youngGarbageCollector, see imports/buffer-garbage.ts).
 */
class ChunkWriter {
  private readonly buffer = Buffer.allocUnsafe(REPORT_CHUNK_BYTES);
  private used = 0;
  private seq = 0;
  private bytes = 0;
  private readonly collect = youngGarbageCollector();

  constructor(
    private readonly client: PoolClient,
    private readonly reportId: string,
  ) {}

  async write(text: string): Promise<void> {
    const size = Buffer.byteLength(text);
    if (this.used + size > this.buffer.length) await this.flush();
    // A batch bigger than a whole piece (a large REPORT_BATCH_ROWS) is a piece of its own.
    if (size > this.buffer.length) await this.store(Buffer.from(text, 'utf8'));
    else this.used += this.buffer.write(text, this.used, 'utf8');
  }

  /** Stores what is left; returns the bytes stored in all. */
  async finish(): Promise<number> {
    await this.flush();
    return this.bytes;
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    await this.store(this.buffer.subarray(0, this.used));
    this.used = 0;
  }

  private async store(data: Buffer): Promise<void> {
    // A Buffer parameter goes to Postgres as binary bytea: no hex or escape encoding on the way.
    await this.client.query(`INSERT INTO report_chunks (report_id, seq, data) VALUES ($1, $2, $3)`, [
      this.reportId,
      this.seq,
      data,
    ]);
    this.seq += 1;
    this.bytes += data.length;
    this.collect(data.length);
  }
}
