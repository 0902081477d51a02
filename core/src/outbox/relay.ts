/**
 * The outbox relay: moves rows written by recordEvent() from Postgres to BullMQ, then marks them
 * published. It runs in every worker process; any number of relays at once is safe:
 *
 * - a batch is claimed with `FOR UPDATE SKIP LOCKED`, so two relays never hold the same row;
 * - the job id is the outbox id (outboxJobId), so a row published twice (enqueue done, crash before
 *   COMMIT) is still one job; the handlers are idempotent for the rare case where the first job has
 *   already been trimmed from Redis;
 * - enqueue happens inside the claiming transaction and `published_at` is set only after Redis took
 *   the jobs: with the queue Redis down the enqueue fails fast, the transaction rolls back and the
 *   rows wait, unpublished, until Redis is back.
 *
 * Woken at once by LISTEN/NOTIFY (recordEvent notifies on commit), with a polling fallback for
 * notifications missed while the listening connection was down.
 */
import pg from 'pg';
import type { Pool } from '../db.js';
import { withTransaction } from '../db.js';
import type { Logger } from '../logger.js';
import { outboxJobId, routeOutboxRow, type JobQueues, type OutboxRow, type QueueName } from '../queues.js';

export const OUTBOX_CHANNEL = 'outbox_events';
const ENQUEUE_TIMEOUT_MS = 5_000;

export interface OutboxRelayOptions {
  pool: Pool;
  queues: JobQueues;
  logger: Logger;
  /** Opens the dedicated LISTEN connection (not from the pool: a pooled client is released and reused). */
  connectListener: () => Promise<pg.Client>;
  /** Fallback poll period, and the wait after a failed batch (Redis or Postgres down). */
  pollIntervalMs: number;
  batchSize: number;
}

export class OutboxRelay {
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private wakePending = false;
  private listener: pg.Client | undefined;
  private listenerRetry: NodeJS.Timeout | undefined;
  private failing = false;

  constructor(private readonly options: OutboxRelayOptions) {}

  /** Starts relaying in the background; resolves once the first LISTEN attempt is done. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.listen();
    this.loop = this.run();
  }

  /** Stops after the batch in flight (its transaction commits or rolls back) and closes the listener. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.listenerRetry);
    this.wakeUp();
    await this.loop;
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  /**
   * Relays one batch: claims up to `batchSize` unpublished rows, enqueues them (one atomic addBulk
   * per queue) and marks them published in the same transaction. Returns how many were relayed.
   */
  async relayBatch(): Promise<number> {
    return withTransaction(this.options.pool, async (client) => {
      const { rows } = await client.query<OutboxRow>(
        `SELECT id, event_type, payload, created_at
           FROM outbox
          WHERE published_at IS NULL
          ORDER BY id
          LIMIT $1
          FOR UPDATE SKIP LOCKED`,
        [this.options.batchSize],
      );
      if (rows.length === 0) return 0;
      const byQueue = new Map<QueueName, { name: string; data: unknown; opts: { jobId: string } }[]>();
      for (const row of rows) {
        const route = routeOutboxRow(row);
        const jobs = byQueue.get(route.queue) ?? [];
        jobs.push({ name: route.jobName, data: route.data, opts: { jobId: outboxJobId(row.id) } });
        byQueue.set(route.queue, jobs);
      }
      for (const [queue, jobs] of byQueue) {
        // A Redis that hangs instead of refusing must not pin the row locks (and this loop) forever.
        await rejectAfter(this.options.queues[queue].addBulk(jobs), ENQUEUE_TIMEOUT_MS, `enqueue to ${queue}`);
      }
      await client.query(`UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])`, [
        rows.map((row) => row.id),
      ]);
      return rows.length;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let relayed = 0;
      try {
        relayed = await this.relayBatch();
        if (this.failing) this.options.logger.info('outbox relay recovered');
        this.failing = false;
        if (relayed > 0) this.options.logger.debug({ relayed }, 'outbox rows relayed');
      } catch (error) {
        // Logged once per outage, not once per poll.
        if (!this.failing) this.options.logger.warn({ err: error }, 'outbox relay failed; retrying');
        this.failing = true;
      }
      // A full batch means more rows are probably waiting: go on at once.
      if (relayed === this.options.batchSize && !this.failing) continue;
      await this.sleep(this.options.pollIntervalMs);
    }
  }

  /** Waits for a notification, the poll interval or stop(), whichever comes first. */
  private sleep(ms: number): Promise<void> {
    if (this.wakePending || this.stopped) {
      this.wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.wakePending = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private wakeUp(): void {
    if (this.wake) this.wake();
    else this.wakePending = true;
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    let client: pg.Client | undefined;
    try {
      client = await this.options.connectListener();
      client.on('notification', () => this.wakeUp());
      client.on('error', (error) => this.listenerLost(client, error));
      client.on('end', () => this.listenerLost(client));
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      this.listener = client;
      // Rows committed while we were not listening are picked up by the next batch.
      this.wakeUp();
    } catch (error) {
      this.options.logger.warn({ err: error }, 'outbox LISTEN connection failed; polling until it is back');
      await client?.end().catch(() => undefined);
      this.scheduleListen();
    }
  }

  private listenerLost(client: pg.Client | undefined, error?: Error): void {
    if (this.stopped || client !== this.listener) return;
    this.options.logger.warn({ err: error }, 'outbox LISTEN connection lost; polling until it is back');
    this.listener = undefined;
    void client?.end().catch(() => undefined);
    this.scheduleListen();
  }

  private scheduleListen(): void {
    if (this.stopped) return;
    clearTimeout(this.listenerRetry);
    this.listenerRetry = setTimeout(() => void this.listen(), Math.max(this.options.pollIntervalMs, 1_000));
  }
}

/** A connectListener for OutboxRelayOptions: a plain pg.Client with a connect timeout. */
export function listenerConnection(
  databaseUrl: string,
  options: { connectTimeoutMs: number; applicationName: string },
) {
  return async (): Promise<pg.Client> => {
    const client = new pg.Client({
      connectionString: databaseUrl,
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: `${options.applicationName}-outbox-listener`,
      keepAlive: true,
    });
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  };
}

function rejectAfter<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
