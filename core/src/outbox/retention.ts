/**
 * Outbox retention: a published outbox row has done its work (its job is in BullMQ, which keeps it for
 * a day at most, see queues.ts) and would otherwise stay forever. The worker's scheduled
 * `outbox.retention` job deletes rows published more than OUTBOX_RETENTION_HOURS ago, except those a
 * webhook delivery still references: a delivery reads its event's payload from the outbox when it is
 * sent or re-driven (deliveries.ts), and the foreign key forbids it anyway. Unpublished rows are never
 * touched, however old: the relay still owes them to the queue.
 *
 * Deletes go in pages of `batchSize` rows in id order, one short transaction each, so the job never holds
 * many row locks or a long transaction. Ids grow with `created_at` and a row is published after it is
 * created, so a page in which no row was created before the cutoff ends the run: no later row can be
 * old enough (a straggler from a long transaction is taken by the next run). A run, a repeated run, or
 * two at once delete each row once.
 */
import type { Pool } from '../db.js';

/** The job name on the `system` queue (worker/src/job-schedules.ts schedules it). */
export const OUTBOX_RETENTION_JOB = 'outbox.retention';

export interface OutboxRetentionOptions {
  /** Published rows older than this (hours since published_at) go. */
  retentionHours: number;
  /** Rows examined (and at most deleted) per transaction. */
  batchSize: number;
}

export async function deleteOldOutboxRows(pool: Pool, options: OutboxRetentionOptions): Promise<{ deleted: number }> {
  let after = 0;
  let deleted = 0;
  for (;;) {
    const { rows } = await pool.query<{ last_id: number | null; old_rows: number; deleted: number }>(
      `WITH page AS (
         SELECT id, created_at, published_at FROM outbox WHERE id > $1 ORDER BY id LIMIT $2),
       gone AS (
         DELETE FROM outbox o USING page
          WHERE o.id = page.id
            AND page.published_at < now() - make_interval(hours => $3)
            AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.outbox_id = o.id)
         RETURNING o.id)
       SELECT (SELECT max(id) FROM page) AS last_id,
              (SELECT count(*) FROM page WHERE created_at < now() - make_interval(hours => $3)) AS old_rows,
              (SELECT count(*) FROM gone) AS deleted`,
      [after, options.batchSize, options.retentionHours],
    );
    const page = rows[0];
    if (!page) break;
    deleted += page.deleted;
    if (page.last_id === null || page.old_rows === 0) break;
    after = page.last_id;
  }
  return { deleted };
}
