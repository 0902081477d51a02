/**
 * The HTTP application, built from its dependencies and never listening: runtime.ts opens what it
 * needs and the sockets. Where a request goes: nginx -> this app -> the feature modules below (one
 * folder per feature, mirroring core/src/<feature>; routes declared as data, see http/route.ts) ->
 * the domain code in @stack/core.
 */
import compression from 'compression';
import express, { type Express } from 'express';
import helmet from 'helmet';
import {
  createWebhookSecretKeyring,
  parseCidrList,
  type ApiConfig,
  type Logger,
  type ResponseCache,
  type ServiceClients,
} from '@stack/core';
import { auditModule } from './audit/routes.js';
import { adminTokensModule } from './auth/routes.js';
import { adminCatalogModule } from './catalog/admin-routes.js';
import { catalogModule } from './catalog/routes.js';
import { healthModule, type Lifecycle } from './health/routes.js';
import { createAuthenticator } from './http/auth.js';
import { docsModule } from './http/docs.js';
import type { Metrics } from './http/metrics.js';
import { errorHandler, notFoundHandler } from './http/problem.js';
import { requestContext } from './http/request-context.js';
import { mountModules, type ApiModule } from './http/route.js';
import { writeLimit } from './http/write-limit.js';
import { importsModule } from './imports/routes.js';
import { adminOrdersModule } from './orders/admin-routes.js';
import { orderLimitsOf, ordersModule } from './orders/routes.js';
import { queueBoardModule } from './queue-board/routes.js';
import { reportsModule } from './reports/routes.js';
import { webhooksModule } from './webhooks/routes.js';

export interface AppDeps extends ServiceClients {
  config: ApiConfig;
  logger: Logger;
  /** The api's response cache for public reads (its namespace and TTL are the api's). */
  cache: ResponseCache;
  lifecycle: Lifecycle;
  metrics: Metrics;
}

export function createApp(deps: AppDeps): Express {
  const { pool, logger, config, catalog } = deps;
  const authenticator = createAuthenticator({
    pool,
    tokenPepper: config.API_TOKEN_PEPPER,
    cacheMs: config.AUTH_TOKEN_CACHE_MS,
  });

  const app = express();
  // Proxy hops to trust for the client address: 1 = nginx only. Never `true` (any client could forge it).
  app.set('trust proxy', config.TRUST_PROXY_HOPS);
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
  if (config.HTTP_COMPRESSION) {
    app.use(
      compression({ threshold: 1_024, filter: (req, res) => !res.locals.preparedBody && compression.filter(req, res) }),
    );
  }

  const modules: ApiModule[] = [
    healthModule(deps),
    catalogModule({ pool, cache: deps.cache, catalog, edgeMaxAgeSeconds: config.EDGE_CACHE_MAX_AGE_SECONDS }),
    ordersModule({ pool, catalog, limits: orderLimitsOf(config) }),
    adminOrdersModule({ pool }),
    adminCatalogModule({ pool, catalog }),
    adminTokensModule({ pool, tokenPepper: config.API_TOKEN_PEPPER, authenticator }),
    // The job tier's HTTP surface: the work itself goes through the outbox to the worker.
    reportsModule({ pool }),
    importsModule({ pool, maxBytes: config.IMPORT_MAX_BYTES }),
    webhooksModule({
      pool,
      allowedPrivateAddresses: parseCidrList(config.WEBHOOK_ALLOWED_PRIVATE_CIDRS),
      // Sealing needs the current key only: previous keys are the worker's, to open older rows.
      secretSealer: createWebhookSecretKeyring(config.WEBHOOK_SECRET_KEY),
    }),
    auditModule({ pool }),
    queueBoardModule({
      pool,
      queues: deps.queues,
      authenticator,
      tokenPepper: config.API_TOKEN_PEPPER,
      sessionTtlSeconds: config.QUEUE_BOARD_SESSION_TTL_SECONDS,
      cookieSecure: config.QUEUE_BOARD_COOKIE_SECURE,
    }),
  ];
  modules.push(docsModule(() => modules));
  mountModules(app, modules, authenticator, {
    writeLimit: writeLimit(deps.cacheRedis, {
      ratePerSecond: config.API_WRITE_RATE_PER_SECOND,
      burst: config.API_WRITE_BURST,
    }),
  });

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
