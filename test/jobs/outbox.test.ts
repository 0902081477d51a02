/**
 * The transactional outbox under failure, and several relays at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import pg from 'pg';
import {
  closeJobQueues,
  createJobQueues,
  createLogger,
  createPool,
  createQueueRedis,
  listenerConnection,
  migrate,
  OutboxRelay,
  outboxJobId,
  QUEUES,
  type Pool,
} from '@stack/core';
import { createScratchDatabase, repoRoot, start, stop } from '../support/stack.js';
import { join } from 'node:path';
import { bearer, sleep, stack, startReceiver, startShop, type TestApi, unique, waitFor } from './support.js';

const logger = createLogger({ level: 'silent', instance: 'outbox-test', component: 'test' });

describe('outbox with the queue Redis down', () => {
  let api: TestApi;
  let admin: { token: string };
  let customer: { token: string };
  let productId: number;
  let endpointId: number | undefined;

  beforeAll(async () => {
    ({ api, admin, customer, productId } = await startShop());
  });

  afterAll(async () => {
    // Whatever happened, the queue Redis must run again for the next test file.
    await start('redis-queue').catch(() => undefined);
    if (endpointId !== undefined) {
      await fetch(`${api.url}/api/v1/admin/webhooks/${endpointId}`, { method: 'DELETE', headers: bearer(admin.token) });
    }
    await api?.close();
  });

  it('when the queue Redis is stopped, then orders still succeed and every event is delivered once after it returns', async () => {
    const receiver = await startReceiver(() => 200);
    try {
      const created = await fetch(`${api.url}/api/v1/admin/webhooks`, {
        method: 'POST',
        headers: { ...bearer(admin.token), 'Content-Type': 'application/json' },
        body: JSON.stringify({ url: receiver.url, eventTypes: ['order.created'] }),
      });
      endpointId = ((await created.json()) as { id: number }).id;

      await stop('redis-queue');
      const orderIds: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const response = await fetch(`${api.url}/api/v1/orders`, {
          method: 'POST',
          headers: {
            ...bearer(customer.token),
            'Content-Type': 'application/json',
            'Idempotency-Key': unique('order'),
          },
          body: JSON.stringify({ items: [{ productId, quantity: 1 }] }),
        });
        expect(response.status).toBe(201);
        orderIds.push(((await response.json()) as { id: number }).id);
      }
      // While Redis is down the relay cannot publish: the events wait in Postgres.
      await sleep(1_500);
      const waiting = await api.pool.query<{ published: boolean }>(
        `SELECT published_at IS NOT NULL AS published FROM outbox
          WHERE event_type = 'order.created' AND (payload->>'orderId')::bigint = ANY($1::bigint[])`,
        [orderIds],
      );
      expect(waiting.rows).toHaveLength(5);
      expect(waiting.rows.every((row) => !row.published)).toBe(true);
      expect(orderIds.every((id) => receiver.forOrder(id).length === 0)).toBe(true);

      await start('redis-queue');
      await waitFor('every event delivered', () => orderIds.every((id) => receiver.forOrder(id).length >= 1), 30_000);
      // Give duplicates a chance to show up, then count.
      await sleep(1_500);
      for (const id of orderIds) expect(receiver.forOrder(id), `order ${id}`).toHaveLength(1);
      const published = await api.pool.query(
        `SELECT 1 FROM outbox WHERE event_type = 'order.created' AND published_at IS NOT NULL
            AND (payload->>'orderId')::bigint = ANY($1::bigint[])`,
        [orderIds],
      );
      expect(published.rowCount).toBe(5);
    } finally {
      await receiver.close();
    }
  });
});

describe('several relays at once', () => {
  let scratch: { url: string; drop: () => Promise<void> };
  let pool: Pool;

  beforeAll(async () => {
    // A database of its own: the stack's worker relays the shared one, and must not take these rows.
    scratch = await createScratchDatabase('outbox_relays');
    await migrate({ databaseUrl: scratch.url, dir: join(repoRoot, 'db/init'), lockTimeoutMs: 10_000, logger });
    pool = createPool(
      {
        DATABASE_URL: scratch.url,
        PG_POOL_MAX: 6,
        PG_CONNECT_TIMEOUT_MS: 2_000,
        INSTANCE_NAME: 'relay-test',
      },
      logger,
    );
  });

  afterAll(async () => {
    await pool?.end();
    await scratch?.drop();
  });

  it('when three relays run over the same outbox, then every row is enqueued once with its outbox id as job id', async () => {
    const prefix = unique('relaytest');
    const connection = createQueueRedis(stack().redisQueueUrl, 'producer', logger);
    const queues = createJobQueues({
      connection,
      prefix,
      settings: { webhookMaxAttempts: 3 },
      onError: () => undefined,
    });
    const relays = [1, 2, 3].map(
      () =>
        new OutboxRelay({
          pool,
          queues,
          logger,
          connectListener: listenerConnection(scratch.url, { connectTimeoutMs: 2_000, applicationName: 'relay-test' }),
          pollIntervalMs: 100,
          batchSize: 7,
        }),
    );
    try {
      await Promise.all(relays.map((relay) => relay.start()));
      // Rows arrive while the relays run: some wake them through NOTIFY, all are claimed by one.
      const client = new pg.Client({ connectionString: scratch.url });
      await client.connect();
      for (let i = 0; i < 150; i += 1) {
        await client.query(`INSERT INTO outbox (event_type, payload) VALUES ('order.created', $1)`, [{ orderId: i }]);
        if (i % 10 === 0) await client.query(`NOTIFY outbox_events`);
      }
      await client.end();
      await waitFor('all published', async () => {
        const { rows } = await pool.query<{ left: number }>(
          `SELECT count(*) AS left FROM outbox WHERE published_at IS NULL`,
        );
        return rows[0]?.left === 0;
      });

      const events = queues[QUEUES.events] as Queue;
      const jobs = await events.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed'], 0, 1_000);
      expect(jobs).toHaveLength(150);
      const { rows } = await pool.query<{ id: number }>(`SELECT id FROM outbox ORDER BY id`);
      expect(new Set(jobs.map((job) => job.id))).toEqual(new Set(rows.map((row) => outboxJobId(row.id))));
    } finally {
      await Promise.all(relays.map((relay) => relay.stop()));
      await Promise.all(Object.values(queues).map((queue) => queue.obliterate({ force: true }).catch(() => undefined)));
      await closeJobQueues(queues);
      connection.disconnect();
    }
  });
});
