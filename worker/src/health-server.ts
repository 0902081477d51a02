import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/**
 * The worker's only port: GET /healthz for the container health check (200 while the process runs
 * and its workers are not closing) and GET /metrics for Prometheus. Not exposed by nginx.
 */
export function createHealthServer(options: { registry: Registry; isHealthy: () => boolean }): Server {
  return createServer((req, res) => {
    if (req.url === '/healthz') {
      const healthy = options.isHealthy();
      res
        .writeHead(healthy ? 200 : 503, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ status: healthy ? 'ok' : 'closing' }));
    } else if (req.url === '/metrics') {
      options.registry.metrics().then(
        (body) => res.writeHead(200, { 'Content-Type': options.registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404).end();
    }
  });
}
