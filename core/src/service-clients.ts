/**
 * The clients both serving processes own (the api and the worker), each registered with the process's
 * closers as it is opened. What only one of them needs (the api's HTTP servers, the worker's blocking
 * queue connection) its own runtime opens.
 */
import { CatalogInvalidator } from './cache/catalog-invalidator.js';
import type { Closers } from './closers.js';
import type { ApiConfig, PostgresConfig } from './config.js';
import { createPool, type Pool } from './db.js';
import type { Logger } from './logger.js';
import { closeJobQueues, createJobQueues, type JobQueues } from './queues.js';
import { closeRedis, createCacheRedis, createQueueRedis, type Redis } from './redis.js';

export type ServiceClientsConfig = PostgresConfig &
  Pick<ApiConfig, 'REDIS_CACHE_URL' | 'REDIS_QUEUE_URL' | 'CACHE_COMMAND_TIMEOUT_MS' | 'WEBHOOK_MAX_ATTEMPTS'>;

export interface ServiceClients {
  pool: Pool;
  /** Fails open (core/src/redis.ts): the response cache and catalog invalidation. */
  cacheRedis: Redis;
  /** Fails fast: the job queues' producer connection (the relay, the worker's fan-out, the api's queue UI). */
  queueRedis: Redis;
  queues: JobQueues;
  /** What every catalog write calls. */
  catalog: CatalogInvalidator;
}

export function openServiceClients(
  config: ServiceClientsConfig,
  logger: Logger,
  closers: Closers,
  options: { cacheKeyPrefix?: string | undefined } = {},
): ServiceClients {
  const pool = closers.open('postgres pool', createPool(config, logger), (opened) => opened.end());
  const cacheRedis = closers.open(
    'redis cache',
    createCacheRedis(config.REDIS_CACHE_URL, config.CACHE_COMMAND_TIMEOUT_MS, logger),
    closeRedis,
  );
  const queueRedis = closers.open(
    'redis queue (producer)',
    createQueueRedis(config.REDIS_QUEUE_URL, 'producer', logger),
    closeRedis,
  );
  const queues = closers.open(
    'job queues',
    createJobQueues({
      connection: queueRedis,
      settings: { webhookMaxAttempts: config.WEBHOOK_MAX_ATTEMPTS },
      onError: (queue, error) => logger.debug({ queue, err: error }, 'queue connection error'),
    }),
    closeJobQueues,
  );
  const catalog = new CatalogInvalidator(cacheRedis, {
    logger,
    ...(options.cacheKeyPrefix === undefined ? {} : { keyPrefix: options.cacheKeyPrefix }),
  });
  return { pool, cacheRedis, queueRedis, queues, catalog };
}
