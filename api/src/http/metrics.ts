import { createServer, type Server } from 'node:http';
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CacheOutcome, Pool } from '@stack/core';

declare module 'express-serve-static-core' {
  interface Locals {
    /** The route template (`/api/v1/products/:id`) of a declared route, set by http/route.ts. */
    routeTemplate?: string;
  }
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * Times every connection request (pool.query asks through pool.connect too): the pool has no event for "waited".
 * Both forms of pg's connect, promise and callback, are kept.
 */
function timePoolAcquire(pool: Pool, histogram: Histogram): void {
  const connect = pool.connect.bind(pool);
  type Callback = Parameters<typeof connect>[0];
  pool.connect = ((callback?: Callback) => {
    const stop = histogram.startTimer();
    if (!callback) return connect().finally(() => stop());
    connect((error: Error | undefined, client, release) => {
      stop();
      callback(error, client, release);
    });
    return undefined;
  }) as Pool['connect'];
}

/**
 * Prometheus metrics of one process, on their own registry (so tests can build several apps) and
 * served on their own port (METRICS_PORT) that nginx never exposes.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route template, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const requestsTotal = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests served by this process',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const cacheRequests = new Counter({
    name: 'response_cache_requests_total',
    help: 'Public reads by cache outcome: hit, miss, coalesced (shared an in-process load), filled-elsewhere (another replica filled it), bypass (cache Redis unavailable)',
    labelNames: ['scope', 'outcome'] as const,
    registers: [registry],
  });

  /**
   * Labels by route template (`/api/v1/products/:id`), never by raw path, and by method with the ones no route
   * declares (Node's parser accepts some 35: PROPFIND, MKCALENDAR...) counted as `other`, to bound cardinality.
   */
  const middleware: RequestHandler = (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = res.locals.routeTemplate ?? (req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched');
      const method = KNOWN_METHODS.has(req.method) ? req.method : 'other';
      const labels = { route, method, status: String(res.statusCode) };
      requestDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      requestsTotal.inc(labels);
    });
    next();
  };

  const cacheOutcome = (scope: string, outcome: CacheOutcome): void => {
    cacheRequests.inc({ scope, outcome });
  };

  /**
   * Pool usage, read at scrape time (connections open, idle, the maximum, requests waiting for one), and the time
   * each request waited for a connection. Named `db_pool_*`: postgres_exporter owns the `pg_` prefix.
   */
  const observePool = (pool: Pool): void => {
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    gauge('db_pool_connections', 'Postgres connections open in this process', () => pool.totalCount);
    gauge('db_pool_idle_connections', 'Open Postgres connections not in use', () => pool.idleCount);
    gauge('db_pool_max_connections', 'The pool size (PG_POOL_MAX)', () => pool.options.max ?? 10);
    gauge(
      'db_pool_waiting_requests',
      'Queries waiting for a Postgres connection (pool exhausted)',
      () => pool.waitingCount,
    );
    timePoolAcquire(
      pool,
      new Histogram({
        name: 'db_pool_acquire_duration_seconds',
        help: 'Time from asking the Postgres pool for a connection to getting one (or an error)',
        buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [registry],
      }),
    );
  };

  /** 1 while this replica would answer /readyz with 200, read at scrape time (flapping shows as changes). */
  const observeReadiness = (isReady: () => Promise<boolean>): void => {
    new Gauge({
      name: 'api_ready',
      help: 'Whether this replica is ready (1) or not (0: draining, or Postgres does not answer)',
      registers: [registry],
      async collect() {
        this.set((await isReady()) ? 1 : 0);
      },
    });
  };

  return { registry, middleware, cacheOutcome, observePool, observeReadiness };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The METRICS_PORT listener: GET /metrics in Prometheus' text format, 404 for anything else. */
export function createMetricsServer(metrics: Metrics): Server {
  return createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (body) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(body),
      () => res.writeHead(500).end(),
    );
  });
}
