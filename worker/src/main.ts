/**
 * The worker process: another entry point over the same @stack/core code as the api. It owns its
 * clients, runs one BullMQ Worker per queue plus the outbox relay, and serves /healthz and /metrics.
 *
 * SIGTERM: the relay stops after its batch in flight; the workers stop taking jobs and get half of
 * SHUTDOWN_TIMEOUT_MS to finish the running ones, then are closed by force. A job cut off that way
 * (or by SIGKILL) keeps its lock until the lock expires; the stalled check of any worker then puts it
 * back to wait and it runs again - its handler is idempotent - so nothing is lost.
 */
import { once } from 'node:events';
import { Registry, collectDefaultMetrics } from 'prom-client';
import {
  closeJobQueues,
  loadConfigOrExit,
  createCacheRedis,
  createJobQueues,
  createLogger,
  createPool,
  createQueueRedis,
  listenerConnection,
  loadWorkerConfig,
  onShutdownSignals,
  OutboxRelay,
} from '@stack/core';
import { closeJobWorkers, createJobWorkers } from './job-workers.js';
import { createHealthServer } from './health-server.js';
import { registerJobMetrics } from './metrics.js';

const config = loadConfigOrExit(loadWorkerConfig, 'worker');

const logger = createLogger({ level: config.LOG_LEVEL, instance: config.INSTANCE_NAME, component: 'worker' });
const pool = createPool(config, logger);
const cacheRedis = createCacheRedis(config.REDIS_CACHE_URL, config.CACHE_COMMAND_TIMEOUT_MS, logger);
// Workers block on Redis and must wait out an outage; the relay, the fan-out and metrics fail fast.
const workerConnection = createQueueRedis(config.REDIS_QUEUE_URL, 'worker', logger);
const producerConnection = createQueueRedis(config.REDIS_QUEUE_URL, 'producer', logger);
const queues = createJobQueues({
  connection: producerConnection,
  settings: { webhookMaxAttempts: config.WEBHOOK_MAX_ATTEMPTS },
  onError: (queue, error) => logger.debug({ queue, err: error }, 'queue connection error'),
});

const registry = new Registry();
collectDefaultMetrics({ register: registry });
const observeWorkers = registerJobMetrics({ registry, queues, pool });

const workers = createJobWorkers({
  connection: workerConnection,
  pool,
  cacheRedis,
  queues,
  logger,
  settings: {
    concurrency: config.WORKER_CONCURRENCY,
    heavyConcurrency: config.WORKER_HEAVY_CONCURRENCY,
    lockDurationMs: config.WORKER_LOCK_DURATION_MS,
    stalledIntervalMs: config.WORKER_STALLED_INTERVAL_MS,
    reportBatchRows: config.REPORT_BATCH_ROWS,
    importBatchRows: config.IMPORT_BATCH_ROWS,
    importMaxStoredErrors: config.IMPORT_MAX_STORED_ERRORS,
    webhookTimeoutMs: config.WEBHOOK_TIMEOUT_MS,
    webhookBackoffBaseMs: config.WEBHOOK_BACKOFF_BASE_MS,
    webhookBackoffMaxMs: config.WEBHOOK_BACKOFF_MAX_MS,
  },
});
observeWorkers(workers);

const relay = new OutboxRelay({
  pool,
  queues,
  logger,
  connectListener: listenerConnection(config.DATABASE_URL, {
    connectTimeoutMs: config.PG_CONNECT_TIMEOUT_MS,
    applicationName: config.INSTANCE_NAME,
  }),
  pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS,
  batchSize: config.OUTBOX_BATCH_SIZE,
});
await relay.start();

let closing = false;
const healthServer = createHealthServer({ registry, isHealthy: () => !closing });
healthServer.listen(config.WORKER_METRICS_PORT, config.HOST);
await once(healthServer, 'listening');
logger.info({ queues: workers.map((worker) => worker.name), port: config.WORKER_METRICS_PORT }, 'worker running');

// Half the deadline for running jobs to finish; then force-close so the rest of shutdown still fits.
const gracefulCloseMs = Math.floor(config.SHUTDOWN_TIMEOUT_MS / 2);
onShutdownSignals({
  logger,
  deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
  steps: () => [
    {
      name: 'outbox relay',
      run: () => {
        closing = true;
        return relay.stop();
      },
    },
    { name: 'workers', run: () => closeJobWorkers(workers, gracefulCloseMs, logger) },
    { name: 'queues', run: () => closeJobQueues(queues) },
    { name: 'health server', run: () => new Promise<void>((resolve) => healthServer.close(() => resolve())) },
    { name: 'postgres pool', run: () => pool.end() },
    { name: 'redis cache', run: () => cacheRedis.quit() },
    { name: 'redis queue (producer)', run: () => producerConnection.quit() },
    { name: 'redis queue (workers)', run: () => workerConnection.quit() },
  ],
});
