/**
 * Sales report generation (worker side). Orders in the range are read through a server-side cursor
 * in batches and folded into one running total per group, so memory grows with the number of groups
 * (days, products or categories: bounded by the calendar and the catalog), never with the number of
 * orders. The run is idempotent: a retry (say, after the worker was killed) starts over and overwrites
 * the same `reports` row, so a report exists once whatever happened.
 */
import type { Pool, PoolClient } from '../db.js';
import { csvLine } from './csv.js';
import { reportParamsSchema, type ReportGrouping, type ReportParams } from './reports.js';

export interface GenerateReportOptions {
  /** Rows per FETCH from the cursor. */
  batchRows: number;
  /** Called with 0..100 whenever the whole-number percentage moves (after `reports.progress` is saved). */
  onProgress?: (percent: number) => Promise<void> | void;
}

export type GenerateReportResult = { outcome: 'completed'; rowCount: number } | { outcome: 'skipped'; reason: string };

/** A single report may read for a while; the pool's short statement timeout is for api requests. */
const REPORT_STATEMENT_TIMEOUT = '120s';

interface Totals {
  orders: number;
  items: number;
  revenueCents: number;
}

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
  let csv: string;
  let rowCount: number;
  try {
    // One snapshot for the count and the cursor: the progress total and the rows agree.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET LOCAL statement_timeout = '${REPORT_STATEMENT_TIMEOUT}'`);
    const totals = await foldOrders(client, params, options.batchRows, progress);
    ({ csv, rowCount } = await renderCsv(client, params.groupBy, totals));
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }

  await pool.query(
    `UPDATE reports SET status = 'completed', progress = 100, row_count = $2, result_csv = $3, completed_at = now()
      WHERE id = $1`,
    [reportId, rowCount, csv],
  );
  await options.onProgress?.(100);
  return { outcome: 'completed', rowCount };
}

/** Marks a report failed for good (its job has no attempts left or can never succeed). */
export async function markReportFailed(pool: Pool, reportId: string, message: string): Promise<void> {
  await pool.query(`UPDATE reports SET status = 'failed', error = $2 WHERE id = $1 AND status <> 'completed'`, [
    reportId,
    message.slice(0, 1_000),
  ]);
}

/** The SQL expression of each grouping's key, computed by Postgres so the fold stays simple. */
const GROUP_KEY_SQL: Record<ReportGrouping, string> = {
  day: `to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
  week: `to_char(date_trunc('week', o.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`,
  month: `to_char(date_trunc('month', o.created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`,
  product: `oi.product_id::text`,
  category: `p.category_id::text`,
};

function rangeOf(params: ReportParams): [string, string] {
  const end = new Date(Date.parse(params.to) + 86_400_000).toISOString().slice(0, 10);
  return [`${params.from}T00:00:00Z`, `${end}T00:00:00Z`];
}

async function foldOrders(
  client: PoolClient,
  params: ReportParams,
  batchRows: number,
  onProgress: (percent: number) => Promise<void>,
): Promise<Map<string, Totals>> {
  const range = rangeOf(params);
  // Cancelled and expired orders are not sales (their stock went back). The product join is only needed to group by category.
  const from = `FROM orders o
    JOIN order_items oi ON oi.order_id = o.id
    ${params.groupBy === 'category' ? 'JOIN products p ON p.id = oi.product_id' : ''}
    WHERE o.created_at >= $1 AND o.created_at < $2 AND o.status NOT IN ('cancelled', 'expired')`;
  const { rows: countRows } = await client.query<{ total: number }>(`SELECT count(*) AS total ${from}`, range);
  const total = countRows[0]?.total ?? 0;

  // Rows of one order are adjacent (ORDER BY created_at, id), which lets the fold count each order
  // once per group with a set that only ever holds the current order's groups.
  await client.query(
    `DECLARE report_rows NO SCROLL CURSOR FOR
       SELECT o.id AS order_id, ${GROUP_KEY_SQL[params.groupBy]} AS key,
              oi.quantity, oi.quantity::bigint * oi.unit_price_cents AS revenue
       ${from}
       ORDER BY o.created_at, o.id`,
    range,
  );
  const totals = new Map<string, Totals>();
  let currentOrder: number | undefined;
  let groupsOfCurrentOrder = new Set<string>();
  let processed = 0;
  let lastPercent = -1;
  for (;;) {
    const { rows } = await client.query<{ order_id: number; key: string; quantity: number; revenue: number }>(
      `FETCH ${batchRows} FROM report_rows`,
    );
    for (const row of rows) {
      if (row.order_id !== currentOrder) {
        currentOrder = row.order_id;
        groupsOfCurrentOrder = new Set();
      }
      let group = totals.get(row.key);
      if (!group) {
        group = { orders: 0, items: 0, revenueCents: 0 };
        totals.set(row.key, group);
      }
      if (!groupsOfCurrentOrder.has(row.key)) {
        groupsOfCurrentOrder.add(row.key);
        group.orders += 1;
      }
      group.items += row.quantity;
      group.revenueCents += row.revenue;
    }
    processed += rows.length;
    const percent = total === 0 ? 99 : Math.min(99, Math.floor((processed / total) * 100));
    if (percent !== lastPercent) {
      lastPercent = percent;
      await onProgress(percent);
    }
    if (rows.length < batchRows) break;
  }
  await client.query('CLOSE report_rows');
  return totals;
}

/** Turns the totals into CSV, with names looked up for product and category groups. */
async function renderCsv(
  client: PoolClient,
  groupBy: ReportGrouping,
  totals: Map<string, Totals>,
): Promise<{ csv: string; rowCount: number }> {
  const lines: string[] = [];
  const amounts = (t: Totals) => [t.orders, t.items, t.revenueCents];
  if (groupBy === 'product' || groupBy === 'category') {
    const ids = [...totals.keys()].map(Number);
    const { rows } = await client.query<{ id: number; code: string; name: string }>(
      groupBy === 'product'
        ? `SELECT id, sku AS code, name FROM products WHERE id = ANY($1::int[])`
        : `SELECT id, slug AS code, name FROM categories WHERE id = ANY($1::int[])`,
      [ids],
    );
    const names = new Map(rows.map((row) => [row.id, row]));
    lines.push(
      csvLine([`${groupBy}_id`, groupBy === 'product' ? 'sku' : 'slug', 'name', 'orders', 'items', 'revenue_cents']),
    );
    for (const id of ids.sort((a, b) => a - b)) {
      const named = names.get(id);
      lines.push(csvLine([id, named?.code ?? '', named?.name ?? '', ...amounts(totals.get(String(id)) as Totals)]));
    }
  } else {
    lines.push(csvLine([groupBy, 'orders', 'items', 'revenue_cents']));
    for (const key of [...totals.keys()].sort()) lines.push(csvLine([key, ...amounts(totals.get(key) as Totals)]));
  }
  return { csv: lines.join(''), rowCount: lines.length - 1 };
}
