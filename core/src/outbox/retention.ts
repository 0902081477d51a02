/**
 * Outbox retention: a published outbox row has done its work (its job is in BullMQ, which keeps it for
 * a day at most, see queues.ts) and would otherwise stay forever. The worker's scheduled
 * `outbox.retention` job deletes rows published more than OUTBOX_RETENTION_HOURS ago, except those a
 * webhook delivery still references: a delivery reads its event's payload from the outbox when it is
 * sent or re-driven (deliveries.ts), and the foreign key forbids it anyway. Unpublished rows are never
 * touched, however old: the relay still owes them to the queue.
 *
 * Deletes go in pages of `batchSize` rows, oldest publication first over `outbox_published_idx` (migration
 * 011), one short transaction each, so the job never holds many row locks or a long transaction. The pages
 * are keyset-paginated by (published_at, id), so the rows a run keeps are read once per run, not once per
 * page. A run, a repeated run, or two at once delete each row once.
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
  // The last row examined, as text: a JavaScript Date would drop the microseconds and re-read rows.
  let after = { publishedAt: '-infinity', id: 0 };
  let deleted = 0;
  for (;;) {
    const { rows } = await pool.query<{ examined: number; deleted: number; last_at: string | null; last_id: number }>(
      `WITH page AS (
         SELECT id, published_at FROM outbox
          WHERE published_at IS NOT NULL AND published_at < now() - make_interval(hours => $3)
            AND (published_at, id) > ($1::timestamptz, $2::bigint)
          ORDER BY published_at, id
          LIMIT $4),
       gone AS (
         DELETE FROM outbox o USING page
          WHERE o.id = page.id AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.outbox_id = o.id)
         RETURNING o.id),
       last AS (SELECT published_at::text AS last_at, id AS last_id FROM page ORDER BY published_at DESC, id DESC LIMIT 1)
       SELECT (SELECT count(*) FROM page) AS examined, (SELECT count(*) FROM gone) AS deleted, last.*
         FROM (SELECT 1) AS one LEFT JOIN last ON true`,
      [after.publishedAt, after.id, options.retentionHours, options.batchSize],
    );
    const page = rows[0];
    if (!page) break;
    deleted += page.deleted;
    if (page.examined < options.batchSize || page.last_at === null) break;
    after = { publishedAt: page.last_at, id: page.last_id };
  }
  return { deleted };
}
