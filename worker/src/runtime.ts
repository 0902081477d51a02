/**
 * Everything the worker process opens, in order, each resource registering its closer as it opens
 * (core/src/closers.ts); `close()` undoes it once, in reverse: the outbox relay stops after its batch
 * in flight (and /healthz turns 503) -> the BullMQ workers stop taking jobs and get half of
 * SHUTDOWN_TIMEOUT_MS to finish the running ones, then are closed by force -> health server ->
 * queues and Redis -> Postgres. main.ts adds only the process (signals, deadline, exit code).
 *
 * A job cut off by the forced close (or by SIGKILL) keeps its lock until the lock expires; the stalled
 * check of any worker then puts it back to wait and it runs again - its handler is idempotent - so
 * nothing is lost.
 */
import type { AddressInfo } from 'node:net';
import type { Worker } from 'bullmq';
import { collectDefaultMetrics, Registry } from 'prom-client';
import {
  closeRedis,
  closeServer,
  createLogger,
  createWebhookSecretKeyring,
  parseWebhookKeyList,
  resealWebhookSecrets,
  createQueueRedis,
  listen,
  listenerConnection,
  openResources,
  openServiceClients,
  ORDER_LAPSE_JOB,
  OUTBOX_RETENTION_JOB,
  OutboxRelay,
  parseCidrList,
  type Logger,
  type ServiceClients,
  type WorkerConfig,
} from '@stack/core';
import { createHealthServer } from './health-server.js';
import { closeJobWorkers, createJobWorkers } from './job-workers.js';
import { registerJobMetrics } from './metrics.js';
import { scheduleRepeatingJob } from './job-schedules.js';

export interface WorkerRuntime extends ServiceClients {
  config: WorkerConfig;
  logger: Logger;
  workers: Worker[];
  relay: OutboxRelay;
  /** The port of /healthz and /metrics (WORKER_METRICS_PORT, or the one the system chose for 0). */
  healthPort: number;
  /** Stops and closes everything, once; true when every step succeeded. Later calls return the same promise. */
  close(): Promise<boolean>;
}

export async function createWorkerRuntime(config: WorkerConfig): Promise<WorkerRuntime> {
  const logger = createLogger({ level: config.LOG_LEVEL, instance: config.INSTANCE_NAME, component: 'worker' });
  return openResources(logger, async (closers) => {
    // Workers block on Redis and must wait out an outage; the relay, the fan-out and metrics fail fast.
    const clients = openServiceClients(config, logger, closers);
    const workerConnection = closers.open(
      'redis queue (workers)',
      createQueueRedis(config.REDIS_QUEUE_URL, 'worker', logger),
      closeRedis,
    );

    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const observeWorkers = registerJobMetrics({ registry, queues: clients.queues, pool: clients.pool });
    let closing = false;
    const healthServer = createHealthServer({ registry, isHealthy: () => !closing });
    await listen(healthServer, config.WORKER_METRICS_PORT, config.HOST);
    closers.onClose('health server', () => closeServer(healthServer));

    // Before any delivery: rows still in clear (from before migration 009) or under a previous key are moved
    // under the current key, so a rotation completes with a restart (worker/README.md, "Secrets at rest").
    const keyring = createWebhookSecretKeyring(
      config.WEBHOOK_SECRET_KEY,
      parseWebhookKeyList(config.WEBHOOK_SECRET_PREVIOUS_KEYS),
    );
    // A database that is not there yet must not keep the worker from starting: the next start (or the CLI) reseals.
    await resealWebhookSecrets(clients.pool, keyring).then(
      (resealed) => {
        if (resealed.resealed === 0 && resealed.unreadable.length === 0) return;
        const level = resealed.unreadable.length > 0 ? 'warn' : 'info';
        logger[level]({ ...resealed, keyId: keyring.currentKeyId }, 'webhook secrets resealed under the current key');
      },
      (error: unknown) => logger.warn({ err: error }, 'webhook secrets not resealed at start'),
    );

    const workers = createJobWorkers({
      connection: workerConnection,
      pool: clients.pool,
      catalog: clients.catalog,
      queues: clients.queues,
      logger,
      settings: {
        concurrency: config.WORKER_CONCURRENCY,
        heavyConcurrency: config.WORKER_HEAVY_CONCURRENCY,
        lockDurationMs: config.WORKER_LOCK_DURATION_MS,
        stalledIntervalMs: config.WORKER_STALLED_INTERVAL_MS,
        reportBatchRows: config.REPORT_BATCH_ROWS,
        importBatchRows: config.IMPORT_BATCH_ROWS,
        importMaxStoredErrors: config.IMPORT_MAX_STORED_ERRORS,
        orderLapseBatchSize: config.ORDER_LAPSE_BATCH_SIZE,
        outboxRetention: {
          retentionHours: config.OUTBOX_RETENTION_HOURS,
          batchSize: config.OUTBOX_RETENTION_BATCH_SIZE,
        },
        webhookTimeoutMs: config.WEBHOOK_TIMEOUT_MS,
        webhookBackoffBaseMs: config.WEBHOOK_BACKOFF_BASE_MS,
        webhookBackoffMaxMs: config.WEBHOOK_BACKOFF_MAX_MS,
        webhookAllowedPrivateAddresses: parseCidrList(config.WEBHOOK_ALLOWED_PRIVATE_CIDRS),
        webhookSecretKeyring: keyring,
      },
    });
    // Half the deadline for running jobs to finish; then force-close so the rest of shutdown still fits.
    const gracefulCloseMs = Math.floor(config.SHUTDOWN_TIMEOUT_MS / 2);
    closers.onClose('workers', () => closeJobWorkers(workers, gracefulCloseMs, logger));
    observeWorkers(workers);
    const schedules = [
      { schedulerId: 'orders-lapse', jobName: ORDER_LAPSE_JOB, everyMs: config.ORDER_LAPSE_INTERVAL_MS },
      { schedulerId: 'outbox-retention', jobName: OUTBOX_RETENTION_JOB, everyMs: config.OUTBOX_RETENTION_INTERVAL_MS },
    ];
    for (const job of schedules) {
      closers.onClose(`${job.jobName} schedule`, scheduleRepeatingJob(clients.queues.system, job, logger));
    }

    const relay = new OutboxRelay({
      pool: clients.pool,
      queues: clients.queues,
      logger,
      connectListener: listenerConnection(config.DATABASE_DIRECT_URL ?? config.DATABASE_URL, {
        connectTimeoutMs: config.PG_CONNECT_TIMEOUT_MS,
        applicationName: config.INSTANCE_NAME,
      }),
      pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
      batchSize: config.OUTBOX_BATCH_SIZE,
    });
    await relay.start();
    closers.onClose('outbox relay', () => {
      closing = true;
      return relay.stop();
    });

    const healthPort = (healthServer.address() as AddressInfo).port;
    logger.info({ queues: workers.map((worker) => worker.name), port: healthPort }, 'worker running');
    return { ...clients, config, logger, workers, relay, healthPort };
  });
}
