/**
 * The api process: reads config, owns every client, listens, and shuts down in order on SIGTERM:
 * readiness 503 and `Connection: close` -> stop accepting -> finish in-flight -> close Postgres and
 * Redis, all within SHUTDOWN_TIMEOUT_MS (shorter than compose's stop_grace_period).
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  closeJobQueues,
  loadConfigOrExit,
  createCacheRedis,
  createJobQueues,
  createLogger,
  createPool,
  createQueueRedis,
  loadApiConfig,
  onShutdownSignals,
} from '@stack/core';
import { createApp } from './app.js';
import { createMetrics } from './http/metrics.js';

const config = loadConfigOrExit(loadApiConfig, 'api');

const logger = createLogger({ level: config.LOG_LEVEL, instance: config.INSTANCE_NAME, component: 'api' });
const pool = createPool(config, logger);
const cacheRedis = createCacheRedis(config.REDIS_CACHE_URL, config.CACHE_COMMAND_TIMEOUT_MS, logger);
const queueRedis = createQueueRedis(config.REDIS_QUEUE_URL, 'producer', logger);
// For the queue UI only: the api never enqueues (accepted work goes through the Postgres outbox).
const queues = createJobQueues({
  connection: queueRedis,
  settings: { webhookMaxAttempts: config.WEBHOOK_MAX_ATTEMPTS },
  onError: (queue, error) => logger.debug({ queue, err: error }, 'queue connection error'),
});
const lifecycle = { draining: false };
const metrics = createMetrics();
metrics.observePool(pool);

const app = createApp({
  logger,
  pool,
  cacheRedis,
  queueRedis,
  lifecycle,
  metrics,
  settings: {
    trustProxyHops: config.TRUST_PROXY_HOPS,
    edgeCacheMaxAgeSeconds: config.EDGE_CACHE_MAX_AGE_SECONDS,
    cacheTtlSeconds: config.CACHE_TTL_SECONDS,
    tokenPepper: config.API_TOKEN_PEPPER,
    authTokenCacheMs: config.AUTH_TOKEN_CACHE_MS,
    compression: config.HTTP_COMPRESSION,
  },
  jobs: {
    queues,
    importMaxBytes: config.IMPORT_MAX_BYTES,
    queueBoardSessionTtlSeconds: config.QUEUE_BOARD_SESSION_TTL_SECONDS,
  },
});

const server = createServer(app);
// Longer than nginx's upstream keepalive_timeout, so nginx always closes an idle connection first
// and never sends a request on a socket Node is closing (the classic keep-alive 502 race).
server.keepAliveTimeout = config.HTTP_KEEP_ALIVE_TIMEOUT_MS;
server.headersTimeout = config.HTTP_HEADERS_TIMEOUT_MS;

const metricsServer = createServer((req, res) => {
  if (req.url === '/metrics') {
    metrics.registry.metrics().then(
      (body) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  } else {
    res.writeHead(404).end();
  }
});

server.listen(config.PORT, config.HOST);
metricsServer.listen(config.METRICS_PORT, config.HOST);
await Promise.all([once(server, 'listening'), once(metricsServer, 'listening')]);
logger.info({ port: config.PORT, metricsPort: config.METRICS_PORT }, 'api listening');

const drainDelayMs = config.SHUTDOWN_DRAIN_DELAY_MS;
onShutdownSignals({
  logger,
  deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
  steps: () => [
    {
      name: 'drain',
      run: async () => {
        lifecycle.draining = true;
        await sleep(drainDelayMs);
      },
    },
    {
      name: 'http server',
      run: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
    },
    { name: 'metrics server', run: () => new Promise<void>((resolve) => metricsServer.close(() => resolve())) },
    { name: 'app', run: () => app.close() },
    { name: 'postgres pool', run: () => pool.end() },
    { name: 'redis cache', run: () => cacheRedis.quit() },
    { name: 'job queues', run: () => closeJobQueues(queues) },
    { name: 'redis queue', run: () => queueRedis.quit() },
  ],
});
