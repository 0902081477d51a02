/**
 * Records one delivery attempt in Postgres. Once the receiver has accepted an event, a failure to record it would
 * make the job fail and BullMQ send the event again: a duplicate that only the database's hiccup caused (the chaos
 * run found one per Postgres restart under load, docs/chaos.md). So the record of an accepted attempt is retried
 * for a while (a restart takes seconds) before the job is given up to its retries; a failed attempt is recorded
 * once, as before, since sending it again is what happens anyway.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from '../db.js';

/** How long an accepted attempt's record is retried; the job's lock is renewed meanwhile by the worker. */
export const RECORD_RETRY_MS = 30_000;

export async function recordAttempt(
  pool: Pool,
  attempt: { deliveryId: string; statusCode: number | null; failure: string | null },
  retryMs = RECORD_RETRY_MS,
): Promise<void> {
  const deadline = Date.now() + retryMs;
  for (let wait = 250; ; wait = Math.min(wait * 2, 2_000)) {
    try {
      await pool.query(
        `UPDATE webhook_deliveries
            SET attempts = attempts + 1, last_status_code = $2, last_error = $3,
                status = CASE WHEN $3::text IS NULL THEN 'delivered' ELSE status END,
                delivered_at = CASE WHEN $3::text IS NULL THEN now() ELSE delivered_at END
          WHERE id = $1`,
        [attempt.deliveryId, attempt.statusCode, attempt.failure],
      );
      return;
    } catch (error) {
      if (attempt.failure !== null || Date.now() + wait > deadline) throw error;
      await sleep(wait);
    }
  }
}
