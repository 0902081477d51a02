/**
 * The HTTP application, built from its dependencies and never listening: `main.ts` owns the process
 * and the sockets, tests mount the same app on port 0. Where a request goes: nginx -> this app ->
 * the feature modules below (declared routes, see http/route.ts) -> the domain code in @stack/core.
 */
import compression from 'compression';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { ResponseCache, catalogVersions, type JobQueues, type Logger, type Pool, type Redis } from '@stack/core';
import { createAuthenticator } from './http/auth.js';
import type { Metrics } from './http/metrics.js';
import { errorHandler, notFoundHandler } from './http/problem.js';
import { requestContext } from './http/request-context.js';
import { mountModules, type ApiModule } from './http/route.js';
import { adminCatalogModule } from './routes/admin-catalog.js';
import { adminJobsModules } from './routes/admin-jobs.js';
import { adminTokensModule } from './routes/admin-tokens.js';
import { catalogModule } from './routes/catalog.js';
import { docsModule } from './routes/docs.js';
import { healthModule, type Lifecycle } from './routes/health.js';
import { ordersModule } from './routes/orders.js';

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
    cacheTtlSeconds: number;
    tokenPepper: string;
    authTokenCacheMs: number;
    /** The compression middleware for bodies built per request (HTTP_COMPRESSION); on unless false. */
    compression?: boolean;
    /** Namespace of the response cache's Redis keys (tests isolate with their own). */
    cacheKeyPrefix?: string;
  };
  /** Reports, imports, webhooks and the queue UI (routes/admin-jobs.ts); not mounted when omitted. */
  jobs?: { queues: JobQueues; importMaxBytes: number; queueBoardSessionTtlSeconds: number };
}

export interface App extends Express {
  /** Stops listening for cache reconnects (the app's only listener on a client it does not own). */
  close(): void;
}

export function createApp(deps: AppDeps): App {
  const { pool, logger, settings } = deps;
  const cache = new ResponseCache(deps.cacheRedis, {
    logger,
    ttlSeconds: settings.cacheTtlSeconds,
    onOutcome: deps.metrics.cacheOutcome,
    ...(settings.cacheKeyPrefix === undefined ? {} : { keyPrefix: settings.cacheKeyPrefix }),
  });
  const stopWatching = cache.watchReconnects(() => catalogVersions.lists(cache));
  const authenticator = createAuthenticator({
    pool,
    tokenPepper: settings.tokenPepper,
    cacheMs: settings.authTokenCacheMs,
  });

  const app = express() as unknown as App;
  app.set('trust proxy', settings.trustProxyHops);
  app.set('etag', false);
  app.disable('x-powered-by');

  app.use(requestContext(logger));
  app.use(deps.metrics.middleware);
  // While draining, each response retires its keep-alive connection, so nginx moves to the other
  // replicas before this one closes its listener.
  app.use((_req, res, next) => {
    if (deps.lifecycle.draining) res.setHeader('Connection', 'close');
    next();
  });
  app.use(helmet());
  // Compresses what is built per request (orders, admin responses, problems) above 1 KB, when the api
  // is reached without nginx (behind nginx the edge gzips for less api CPU: api/README.md,
  // "Compression"). Prepared bodies carry their own gzip copy and are always skipped.
  if (settings.compression !== false) {
    app.use(
      compression({ threshold: 1_024, filter: (req, res) => !res.locals.preparedBody && compression.filter(req, res) }),
    );
  }

  const modules: ApiModule[] = [
    healthModule(deps),
    catalogModule({ pool, cache, edgeMaxAgeSeconds: settings.edgeCacheMaxAgeSeconds }),
    ordersModule({ pool, cache }),
    adminCatalogModule({ pool, cache }),
    adminTokensModule({ pool, tokenPepper: settings.tokenPepper, authenticator }),
    ...(deps.jobs ? adminJobsModules({ pool, authenticator, tokenPepper: settings.tokenPepper, ...deps.jobs }) : []),
  ];
  modules.push(docsModule(() => modules));
  mountModules(app, modules, authenticator);

  app.use(notFoundHandler);
  app.use(errorHandler);
  app.close = stopWatching;
  return app;
}
