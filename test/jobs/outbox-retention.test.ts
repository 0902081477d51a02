/**
 * Outbox retention (core/src/outbox/retention.ts) on the stack's Postgres: published rows older than the
 * retention go, in batches; unpublished rows, recent ones and rows a webhook delivery references stay.
 * Then the same through the stack's worker, whose scheduler runs the job every second in these tests
 * (FAST_WORKER_ENV) with the default retention of a week.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { deleteOldOutboxRows, OUTBOX_RETENTION_JOB, QUEUES, type Redis } from '@stack/core';
import { bearer, startWithAdmin, startWorker, unique, waitFor, type TestApi } from './support.js';
import { stop } from '../support/stack.js';

let api: TestApi;
let admin: { token: string };
let endpointId: number;
/** The event type of this file's rows: nothing subscribes to it, so the relay's fan-out of them does nothing. */
const eventType = unique('test.retention');

beforeAll(async () => {
  ({ api, admin } = await startWithAdmin());
  // An endpoint for the deliveries that reference rows; paused at once, so no order event reaches it.
  const created = await fetch(`${api.url}/api/v1/admin/webhooks`, {
    method: 'POST',
    headers: { ...bearer(admin.token), 'Content-Type': 'application/json' },
    body: JSON.stringify({ url: 'http://127.0.0.1:9/retention', eventTypes: ['order.created'] }),
  });
  expect(created.status).toBe(201);
  endpointId = ((await created.json()) as { id: number }).id;
  const paused = await fetch(`${api.url}/api/v1/admin/webhooks/${endpointId}`, {
    method: 'PATCH',
    headers: { ...bearer(admin.token), 'Content-Type': 'application/json' },
    body: JSON.stringify({ active: false }),
  });
  expect(paused.status).toBe(200);
});

afterAll(async () => {
  if (!api) return;
  // Deleting the endpoint deletes its deliveries; then nothing references this file's rows.
  await fetch(`${api.url}/api/v1/admin/webhooks/${endpointId}`, { method: 'DELETE', headers: bearer(admin.token) });
  await api.pool.query(`DELETE FROM outbox WHERE event_type = $1`, [eventType]);
  await api.close();
});

/** One outbox row of this file's type, created and (unless null) published that many hours ago. */
async function outboxRow(ages: { created: number; published: number | null }): Promise<number> {
  const { rows } = await api.pool.query<{ id: number }>(
    `INSERT INTO outbox (event_type, payload, created_at, published_at)
     VALUES ($1, '{}', now() - make_interval(hours => $2),
             CASE WHEN $3::int IS NULL THEN NULL ELSE now() - make_interval(hours => $3::int) END)
     RETURNING id`,
    [eventType, ages.created, ages.published],
  );
  return (rows[0] as { id: number }).id;
}

async function referencedBy(outboxId: number): Promise<void> {
  await api.pool.query(
    `INSERT INTO webhook_deliveries (endpoint_id, outbox_id, event_type, status, attempts, delivered_at)
     VALUES ($1, $2, 'order.created', 'delivered', 1, now())`,
    [endpointId, outboxId],
  );
}

async function existing(ids: number[]): Promise<number[]> {
  const { rows } = await api.pool.query<{ id: number }>(`SELECT id FROM outbox WHERE id = ANY($1) ORDER BY id`, [ids]);
  return rows.map((row) => row.id);
}

describe('outbox retention', () => {
  it('when published rows are older than the retention, then they go in batches and the rest stays', async () => {
    // No relay meanwhile (it runs in the worker), so an old unpublished row stays unpublished.
    await stop('worker-1');
    const old: number[] = [];
    for (let i = 0; i < 5; i += 1) old.push(await outboxRow({ created: 240, published: 240 }));
    const referenced = await outboxRow({ created: 240, published: 239 });
    await referencedBy(referenced);
    const recent = await outboxRow({ created: 2, published: 1 });
    const unpublished = await outboxRow({ created: 240, published: null });
    try {
      // Two rows per transaction: the run pages through all of them.
      const result = await deleteOldOutboxRows(api.pool, { retentionHours: 168, batchSize: 2 });
      expect(result.deleted).toBeGreaterThanOrEqual(old.length);
      expect(await existing([...old, referenced, recent, unpublished])).toEqual([referenced, recent, unpublished]);
    } finally {
      await api.pool.query(`DELETE FROM outbox WHERE id = $1`, [unpublished]);
      await startWorker();
    }
  });

  it("when the stack's worker runs the retention job, then old published rows go and referenced ones stay", async () => {
    const old = await outboxRow({ created: 200, published: 200 });
    const referenced = await outboxRow({ created: 200, published: 200 });
    await referencedBy(referenced);
    const system = new Queue(QUEUES.system, { connection: api.queueRedis as Redis });
    try {
      // The worker keeps its schedule in BullMQ (FAST_WORKER_ENV: every second)...
      const scheduler = await system.getJobScheduler('outbox-retention');
      expect(scheduler).toEqual(expect.objectContaining({ name: OUTBOX_RETENTION_JOB, every: 1000 }));
      // ...and the test adds the job that schedule adds, rather than waiting for its next slot: after the
      // scheduler's interval changed on a restart (the stack's worker starts with the default hour), BullMQ
      // sometimes kept the old slot, and 1 run in 3 of this file in sequence with others saw no run in 20 s.
      await system.add(OUTBOX_RETENTION_JOB, {});
      await waitFor('the old row deleted', async () => (await existing([old])).length === 0, 20_000, 250);
    } finally {
      await system.close();
    }
    expect(await existing([old, referenced])).toEqual([referenced]);
  });
});
