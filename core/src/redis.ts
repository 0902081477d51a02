import { once } from 'node:events';
import { Redis } from 'ioredis';
import type { Logger } from './logger.js';

export type { Redis };

/**
 * The cache client fails open: a command that does not answer within `commandTimeoutMs` rejects,
 * and with no offline queue a command sent while disconnected rejects at once instead of waiting
 * for a reconnect. Callers treat a rejection as a miss and read Postgres.
 * https://github.com/redis/ioredis#offline-queue
 */
export function createCacheRedis(url: string, commandTimeoutMs: number, logger: Logger): Redis {
  const redis = new Redis(url, {
    commandTimeout: commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    connectionName: 'cache',
  });
  watchConnection(redis, 'cache', logger);
  return redis;
}

/**
 * Queue connections. BullMQ workers need `maxRetriesPerRequest: null` (blocking commands must not
 * be cut off); producers fail fast instead (no offline queue), because what must not be lost goes
 * through the Postgres outbox, not straight to Redis.
 * https://docs.bullmq.io/guide/going-to-production#maxretriesperrequest
 */
export function createQueueRedis(url: string, role: 'producer' | 'worker', logger: Logger): Redis {
  const redis =
    role === 'worker'
      ? new Redis(url, { maxRetriesPerRequest: null, connectionName: 'queue-worker' })
      : new Redis(url, {
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          connectTimeout: 2_000,
          retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
          connectionName: 'queue-producer',
        });
  watchConnection(redis, `queue-${role}`, logger);
  return redis;
}

/** Logs connection changes once per change (not per retry) so a dead Redis does not flood logs. */
function watchConnection(redis: Redis, name: string, logger: Logger): void {
  let healthy = true;
  redis.on('ready', () => {
    if (!healthy) logger.info({ redis: name }, 'redis connection restored');
    healthy = true;
  });
  redis.on('error', (error: Error) => {
    if (healthy) logger.warn({ redis: name, err: error }, 'redis connection failed; retrying');
    healthy = false;
  });
}

/**
 * Closes a client for good: QUIT when it is connected (the commands already sent finish first; if Redis cannot
 * take it, the connection is dropped), otherwise the connection attempt is dropped. Resolves once the connection
 * has ended, or after a second (a client waiting to reconnect has no socket left to end).
 */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  // A connection being set up is let finish (bounded, and at once if it fails): dropped between connect and
  // ready, ioredis' ready check rejects unhandled on a client without an offline queue.
  if (redis.status === 'connecting' || redis.status === 'connect') {
    await withDeadline(once(redis, 'ready'), 1_000, undefined);
  }
  const ended = once(redis, 'end');
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
  await withDeadline(ended, 1_000, undefined);
}

/** PING with its own deadline, for readiness checks: true when Redis answered in time. */
export async function pingRedis(redis: Redis, timeoutMs: number): Promise<boolean> {
  return withDeadline(
    redis.ping().then((reply) => reply === 'PONG'),
    timeoutMs,
    false,
  );
}

/** Resolves with `promise`, or with `fallback` once `ms` have passed; a late rejection is swallowed. */
export function withDeadline<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
    timer.unref();
  });
  return Promise.race([promise.catch(() => fallback), deadline]).finally(() => clearTimeout(timer));
}
