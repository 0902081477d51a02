import type { RequestHandler } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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

  /** Labels by route template (`/api/v1/products/:id`), never by raw path, to bound cardinality. */
  const middleware: RequestHandler = (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = req.route ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      const labels = { route, method: req.method, status: String(res.statusCode) };
      requestDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      requestsTotal.inc(labels);
    });
    next();
  };

  return { registry, middleware };
}

export type Metrics = ReturnType<typeof createMetrics>;
