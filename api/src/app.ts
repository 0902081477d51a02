/**
 * The HTTP application, built from its dependencies and never listening: `main.ts` owns the process
 * and the sockets, tests mount the same app on port 0. Where a request goes: nginx -> this app ->
 * the feature routers below -> the shared domain code in @stack/core.
 */
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { Logger, Pool, Redis } from '@stack/core';
import type { Metrics } from './http/metrics.js';
import { errorHandler, notFoundHandler } from './http/problem.js';
import { requestContext } from './http/request-context.js';
import { catalogRoutes } from './routes/catalog.js';
import { healthRoutes, type Lifecycle } from './routes/health.js';

export interface AppDeps {
  logger: Logger;
  pool: Pool;
  cacheRedis: Redis;
  queueRedis: Redis;
  lifecycle: Lifecycle;
  metrics: Metrics;
  settings: {
    /** Proxy hops to trust for the client address: 1 = nginx only. Never `true` (any client could forge it). */
    trustProxyHops: number;
    edgeCacheMaxAgeSeconds: number;
  };
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.set('trust proxy', deps.settings.trustProxyHops);
  app.set('etag', false);
  app.disable('x-powered-by');

  app.use(requestContext(deps.logger));
  app.use(deps.metrics.middleware);
  // While draining, each response retires its keep-alive connection, so nginx moves to the other
  // replicas before this one closes its listener.
  app.use((_req, res, next) => {
    if (deps.lifecycle.draining) res.setHeader('Connection', 'close');
    next();
  });
  app.use(helmet());

  app.use(healthRoutes(deps));
  app.use('/api/v1', catalogRoutes({ pool: deps.pool, edgeMaxAgeSeconds: deps.settings.edgeCacheMaxAgeSeconds }));

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
