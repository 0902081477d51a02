/**
 * The worker process: another entry point over the same @stack/core code as the api. It owns its
 * clients, runs one BullMQ Worker per queue, and on SIGTERM closes the workers (letting the running
 * jobs finish) within a bound, then forces; a job cut off that way is retried by BullMQ (its lock
 * expires), so nothing is lost.
 */
import { once } from 'node:events';
import { Worker } from 'bullmq';
import { Registry, collectDefaultMetrics } from 'prom-client';
import {
  ConfigError,
  createLogger,
  createPool,
  createQueueRedis,
  loadWorkerConfig,
  onShutdownSignals,
  QUEUES,
  withDeadline,
} from '@stack/core';
import { createHealthServer } from './health-server.js';
import { systemProcessor } from './processors/system.js';

let config;
try {
  config = loadWorkerConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`worker: ${error.message}`);
  process.exit(1);
}

const logger = createLogger({ level: config.LOG_LEVEL, instance: config.INSTANCE_NAME, component: 'worker' });
const pool = createPool(config, logger);
const connection = createQueueRedis(config.REDIS_QUEUE_URL, 'worker', logger);
const registry = new Registry();
collectDefaultMetrics({ register: registry });

const workers = [
  new Worker(QUEUES.system, systemProcessor(logger), { connection, concurrency: config.WORKER_CONCURRENCY }),
];
for (const worker of workers) {
  worker.on('failed', (job, error) =>
    logger.warn({ queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, err: error }, 'job failed'),
  );
  worker.on('error', (error) => logger.error({ queue: worker.name, err: error }, 'worker error'));
}

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
      name: 'workers',
      run: async () => {
        closing = true;
        const closed = await withDeadline(
          Promise.all(workers.map((worker) => worker.close())).then(() => true),
          gracefulCloseMs,
          false,
        );
        if (!closed) {
          logger.warn({ gracefulCloseMs }, 'jobs still running; forcing close (they will be retried)');
          await Promise.all(workers.map((worker) => worker.close(true)));
        }
      },
    },
    { name: 'health server', run: () => new Promise<void>((resolve) => healthServer.close(() => resolve())) },
    { name: 'postgres pool', run: () => pool.end() },
    { name: 'redis queue', run: () => connection.quit() },
  ],
});
