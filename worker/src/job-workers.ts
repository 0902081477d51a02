/**
 * The BullMQ Workers of one worker process, one per queue, built from their dependencies (runtime.ts
 * passes the process's clients; a test may pass a random key prefix and short timings).
 */
import type { BlockList } from 'node:net';
import { Worker, type Processor, type WorkerOptions } from 'bullmq';
import {
  QUEUES,
  WEBHOOK_BACKOFF_TYPE,
  webhookRetryDelay,
  type CatalogInvalidator,
  type JobQueues,
  type Logger,
  type OutboxRetentionOptions,
  type Pool,
  type QueueName,
  type Redis,
  type WebhookSecretKeyring,
} from '@stack/core';
import { eventsProcessor } from './processors/events.js';
import { importsProcessor } from './processors/imports.js';
import { reportsProcessor } from './processors/reports.js';
import { systemProcessor } from './processors/system.js';
import { webhooksProcessor } from './processors/webhooks.js';

export interface JobWorkerSettings {
  concurrency: number;
  /** Reports and imports: long, Postgres- and CPU-heavy. */
  heavyConcurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  reportBatchRows: number;
  importBatchRows: number;
  importMaxStoredErrors: number;
  /** Orders the lapse job expires per transaction (ORDER_LAPSE_BATCH_SIZE). */
  orderLapseBatchSize: number;
  /** What the outbox retention job deletes (OUTBOX_RETENTION_HOURS, OUTBOX_RETENTION_BATCH_SIZE). */
  outboxRetention: OutboxRetentionOptions;
  webhookTimeoutMs: number;
  webhookBackoffBaseMs: number;
  webhookBackoffMaxMs: number;
  /** WEBHOOK_ALLOWED_PRIVATE_CIDRS, parsed. */
  webhookAllowedPrivateAddresses?: BlockList;
  /** WEBHOOK_SECRET_KEY and WEBHOOK_SECRET_PREVIOUS_KEYS: opens the endpoints' sealed signing secrets. */
  webhookSecretKeyring: WebhookSecretKeyring;
}

export interface JobWorkerDeps {
  /** A connection with maxRetriesPerRequest: null (createQueueRedis(..., 'worker')); Workers duplicate it for blocking reads. */
  connection: Redis;
  pool: Pool;
  /** What imports tell once they have changed the catalog. */
  catalog: CatalogInvalidator;
  /** Producer queues (fail fast), for jobs that enqueue more jobs (events -> webhooks). */
  queues: JobQueues;
  logger: Logger;
  settings: JobWorkerSettings;
  prefix?: string;
}

/**
 * A job killed with its worker is recovered by the stalled check, at most this many times; beyond
 * that it is probably the job that kills the process (out of memory), and it fails.
 */
const MAX_STALLED_COUNT = 2;

export function createJobWorkers(deps: JobWorkerDeps): Worker[] {
  const { settings, pool } = deps;
  const common: WorkerOptions = {
    connection: deps.connection,
    ...(deps.prefix === undefined ? {} : { prefix: deps.prefix }),
    // https://docs.bullmq.io/guide/workers/stalled-jobs
    lockDuration: settings.lockDurationMs,
    stalledInterval: settings.stalledIntervalMs,
    maxStalledCount: MAX_STALLED_COUNT,
    settings: {
      backoffStrategy: (attemptsMade: number, type?: string) =>
        type === WEBHOOK_BACKOFF_TYPE
          ? webhookRetryDelay(attemptsMade, {
              baseMs: settings.webhookBackoffBaseMs,
              maxMs: settings.webhookBackoffMaxMs,
            })
          : 0,
    },
  };
  const processors: Record<QueueName, { processor: Processor; concurrency: number }> = {
    [QUEUES.system]: {
      processor: systemProcessor({
        pool,
        catalog: deps.catalog,
        logger: deps.logger,
        lapseBatchSize: settings.orderLapseBatchSize,
        outboxRetention: settings.outboxRetention,
      }),
      concurrency: settings.concurrency,
    },
    [QUEUES.events]: { processor: eventsProcessor({ pool, queues: deps.queues }), concurrency: settings.concurrency },
    [QUEUES.reports]: {
      processor: reportsProcessor({ pool, batchRows: settings.reportBatchRows }),
      concurrency: settings.heavyConcurrency,
    },
    [QUEUES.imports]: {
      processor: importsProcessor({
        pool,
        catalog: deps.catalog,
        batchRows: settings.importBatchRows,
        maxStoredErrors: settings.importMaxStoredErrors,
      }),
      concurrency: settings.heavyConcurrency,
    },
    [QUEUES.webhooks]: {
      processor: webhooksProcessor({
        pool,
        timeoutMs: settings.webhookTimeoutMs,
        userAgent: 'node-stack-webhooks/1',
        allowedPrivateAddresses: settings.webhookAllowedPrivateAddresses,
        keyring: settings.webhookSecretKeyring,
      }),
      concurrency: settings.concurrency,
    },
  };

  return Object.entries(processors).map(([name, { processor, concurrency }]) => {
    const worker = new Worker(name, processor, { ...common, concurrency });
    worker.on('failed', (job, error) =>
      deps.logger.warn(
        {
          queue: name,
          jobId: job?.id,
          attemptsMade: job?.attemptsMade,
          err: { message: error.message, name: error.name },
        },
        'job attempt failed',
      ),
    );
    worker.on('error', (error) => deps.logger.error({ queue: name, err: error }, 'worker error'));
    return worker;
  });
}

/** Closes the workers, letting running jobs finish for up to `graceMs`, then forcing (their locks expire and they are retried). */
export async function closeJobWorkers(workers: Worker[], graceMs: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceful = Promise.all(workers.map((worker) => worker.close())).then(() => true);
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), graceMs);
  });
  const closed = await Promise.race([graceful, expired]).finally(() => clearTimeout(timer));
  if (!closed) {
    logger.warn({ graceMs }, 'jobs still running; forcing close (they are retried after their lock expires)');
    await Promise.all(workers.map((worker) => worker.close(true)));
  }
}
