/**
 * Sales reports, the request side: an admin asks, the api stores the request and an outbox row in
 * one transaction and answers 202; the worker generates the CSV (generate.ts); status and download
 * are read back from the `reports` row, so the api never needs the queue Redis for any of it.
 */
import { z } from 'zod';
import { withTransaction, type Pool } from '../db.js';
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

/** The stored CSV of a report, with its status (no CSV unless completed). */
export async function getReportCsv(
  pool: Pool,
  id: string,
): Promise<{ status: ReportStatus; csv: string | null } | undefined> {
  const { rows } = await pool.query<{ status: ReportStatus; csv: string | null }>(
    `SELECT status, result_csv AS csv FROM reports WHERE id = $1`,
    [id],
  );
  return rows[0];
}
