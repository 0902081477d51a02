/**
 * Everything the api process opens, in order, each resource registering its closer as it opens
 * (core/src/closers.ts); `close()` undoes it once, in reverse: drain (readiness 503 and
 * `Connection: close` for SHUTDOWN_DRAIN_DELAY_MS, so nginx moves on) -> stop accepting and finish
 * in-flight requests -> metrics port -> cache watch -> queues and Redis -> Postgres. main.ts and the
 * tests run this same function; main.ts adds only the process (signals, deadline, exit code).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  closeServer,
  createLogger,
  listen,
  openResources,
  openServiceClients,
  ResponseCache,
  type ApiConfig,
  type Logger,
  type ServiceClients,
} from '@stack/core';
import type { Express } from 'express';
import { createApp } from './app.js';
import { checkReadiness, type Lifecycle } from './health/routes.js';
import { createMetrics, createMetricsServer, type Metrics } from './http/metrics.js';

export interface ApiRuntimeOverrides {
  /** Namespace of the response cache and its catalog versions (default CACHE_KEY_PREFIX; tests isolate with their own). */
  cacheKeyPrefix?: string;
}

export interface ApiRuntime extends ServiceClients {
  config: ApiConfig;
  logger: Logger;
  cache: ResponseCache;
  metrics: Metrics;
  lifecycle: Lifecycle;
  app: Express;
  server: Server;
  /** The port the api listens on (PORT, or the one the system chose for PORT=0). */
  port: number;
  metricsPort: number;
  /** Drains and closes everything, once; true when every step succeeded. Later calls return the same promise. */
  close(): Promise<boolean>;
}

export async function createApiRuntime(config: ApiConfig, overrides: ApiRuntimeOverrides = {}): Promise<ApiRuntime> {
  const logger = createLogger({ level: config.LOG_LEVEL, instance: config.INSTANCE_NAME, component: 'api' });
  return openResources(logger, async (closers) => {
    const clients = openServiceClients(config, logger, closers, { cacheKeyPrefix: overrides.cacheKeyPrefix });
    const metrics = createMetrics();
    metrics.observePool(clients.pool);
    const cache = new ResponseCache(clients.cacheRedis, {
      logger,
      ttlSeconds: config.CACHE_TTL_SECONDS,
      onOutcome: metrics.cacheOutcome,
      ...(overrides.cacheKeyPrefix === undefined ? {} : { keyPrefix: overrides.cacheKeyPrefix }),
    });
    closers.onClose(
      'cache reconnect watch',
      cache.watchReconnects(() => clients.catalog.catalogChanged()),
    );
    const lifecycle: Lifecycle = { draining: false };
    metrics.observeReadiness(async () => (await checkReadiness({ ...clients, lifecycle })).ready);
    const app = createApp({ ...clients, config, logger, cache, lifecycle, metrics });

    const metricsServer = createMetricsServer(metrics);
    await listen(metricsServer, config.METRICS_PORT, config.HOST);
    closers.onClose('metrics server', () => closeServer(metricsServer));

    const server = createServer(app);
    // Longer than nginx's upstream keepalive_timeout, so nginx always closes an idle connection first
    // and never sends a request on a socket Node is closing (the classic keep-alive 502 race).
    server.keepAliveTimeout = config.HTTP_KEEP_ALIVE_TIMEOUT_MS;
    server.headersTimeout = config.HTTP_HEADERS_TIMEOUT_MS;
    await listen(server, config.PORT, config.HOST);
    closers.onClose('http server', () => closeServer(server));
    closers.onClose('drain', async () => {
      lifecycle.draining = true;
      await sleep(config.SHUTDOWN_DRAIN_DELAY_MS);
    });

    const port = (server.address() as AddressInfo).port;
    const metricsPort = (metricsServer.address() as AddressInfo).port;
    logger.info({ port, metricsPort }, 'api listening');
    return { ...clients, config, logger, cache, metrics, lifecycle, app, server, port, metricsPort };
  });
}
