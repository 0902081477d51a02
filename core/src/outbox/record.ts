import type { PoolClient } from '../db.js';

/**
 * Records an event in the outbox on the caller's transaction client, so the event exists exactly
 * when the change it announces commits. The worker's relay publishes it to BullMQ later; Redis
 * being down at this moment loses nothing.
 */
export async function recordEvent(
  client: PoolClient,
  eventType: string,
  payload: Record<string, unknown>,
): Promise<number> {
  const { rows } = await client.query<{ id: number }>(
    `INSERT INTO outbox (event_type, payload) VALUES ($1, $2) RETURNING id`,
    [eventType, payload],
  );
  // Wakes the relay at once (LISTEN outbox_events); delivered on commit, dropped on rollback.
  await client.query(`SELECT pg_notify('outbox_events', $1)`, [String(rows[0]?.id)]);
  return rows[0]?.id as number;
}
