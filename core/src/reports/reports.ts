/**
 * Sales reports, the request side: an admin asks, the api stores the request and an outbox row in
 * one transaction and answers 202; the worker generates the CSV (generate.ts) into `report_chunks`;
 * status and download are read back from Postgres, so the api never needs the queue Redis for any of it.
 */
import type { QueryConfig } from 'pg';
import { z } from 'zod';
import { withTransaction, type Pool } from '../db.js';
import { youngGarbageCollector } from '../imports/buffer-garbage.js';
import { recordEvent } from '../outbox/record.js';

export const REPORT_GROUPINGS = ['day', 'week', 'month', 'product', 'category'] as const;
export type ReportGrouping = (typeof REPORT_GROUPINGS)[number];

/** Longest range one report may cover: ten years of days is still a small CSV. */
const MAX_RANGE_DAYS = 3_660;
const DAY_MS = 86_400_000;

/** `from` and `to` are UTC calendar days, both included. */
export const reportParamsSchema = z
  .strictObject({
    from: z.iso.date(),
    to: z.iso.date(),
    groupBy: z.enum(REPORT_GROUPINGS).default('day'),
  })
  .refine((params) => params.from <= params.to, { path: ['to'], message: 'must not be before from' })
  .refine((params) => (Date.parse(params.to) - Date.parse(params.from)) / DAY_MS < MAX_RANGE_DAYS, {
    path: ['to'],
    message: `the range may cover at most ${MAX_RANGE_DAYS} days`,
  });
export type ReportParams = z.infer<typeof reportParamsSchema>;

export type ReportStatus = 'queued' | 'running' | 'completed' | 'failed';

export interface Report {
  id: string;
  requestedBy: number;
  params: ReportParams;
  status: ReportStatus;
  progress: number;
  rowCount: number | null;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
}

const REPORT_COLUMNS = `id, requested_by AS "requestedBy", params, status, progress, row_count AS "rowCount", error,
  created_at AS "createdAt", started_at AS "startedAt", completed_at AS "completedAt"`;

/** Stores the request and its `report.requested` outbox row together: accepted means it will run. */
export async function requestReport(pool: Pool, userId: number, params: ReportParams): Promise<Report> {
  return withTransaction(pool, async (client) => {
    const { rows } = await client.query<Report>(
      `INSERT INTO reports (requested_by, params) VALUES ($1, $2) RETURNING ${REPORT_COLUMNS}`,
      [userId, params],
    );
    const report = rows[0] as Report;
    await recordEvent(client, 'report.requested', { reportId: report.id });
    return report;
  });
}

export async function getReport(pool: Pool, id: string): Promise<Report | undefined> {
  const { rows } = await pool.query<Report>(`SELECT ${REPORT_COLUMNS} FROM reports WHERE id = $1`, [id]);
  return rows[0];
}

/** What a download needs to know first: the report's status and, once completed, its CSV's size in bytes. */
export async function getReportDownload(
  pool: Pool,
  id: string,
): Promise<{ status: ReportStatus; bytes: number | null } | undefined> {
  const { rows } = await pool.query<{ status: ReportStatus; bytes: number | null }>(
    `SELECT status, result_bytes AS bytes FROM reports WHERE id = $1`,
    [id],
  );
  return rows[0];
}

/**
 * The CSV of a completed report, one stored piece (~1 MiB) at a time, in order: the caller sends each
 * before the next is read, so a report of any size costs the api one piece of memory. Each piece is its
 * own query (no transaction or cursor held between them, which a PgBouncer in transaction mode allows);
 * the pieces of a completed report never change.
 */
export async function* readReportCsv(pool: Pool, id: string): AsyncGenerator<Buffer> {
  // A sent piece is garbage at once: collected young before the next is read, pieces never pile up in RSS
  // (imports/buffer-garbage.ts).
  const collect = youngGarbageCollector(1);
  let seq = -1;
  for (;;) {
    // Binary result format (pg's `binary`, missing from its typings): the bytea arrives as its bytes,
    // not as hex text twice the size; the one column is taken as it comes.
    const piece = {
      text: `SELECT seq, data FROM report_chunks WHERE report_id = $1 AND seq > $2 ORDER BY seq LIMIT 1`,
      values: [id, seq],
      binary: true,
      types: { getTypeParser: () => (value: Buffer) => value },
    } as unknown as QueryConfig;
    const { rows } = await pool.query<{ seq: Buffer; data: Buffer }>(piece);
    const row = rows[0];
    if (!row) return;
    seq = row.seq.readInt32BE(0);
    collect(row.data.length);
    yield row.data;
  }
}
