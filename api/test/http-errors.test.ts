import { createServer } from 'node:net';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createScratchDatabase, stack } from '../../test/support/stack.js';
import { createCatalog, createUser, json, startApi, unique, useApi } from './support/api.js';

const PROBLEM = 'application/problem+json';

/** A TCP port on which nothing listens (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('HTTP errors as problem+json', () => {
  const fixture = useApi();
  /** A category sent as raw bytes of `contentType`: what the body parser sees before any schema. */
  const postCategoryAs = (contentType: string, body: string) =>
    fixture.contract.call(`${fixture.api.url}/api/v1/admin/categories`, 'POST', '/api/v1/admin/categories', {
      headers: { ...fixture.admin.headers, 'Content-Type': contentType },
      body,
    });

  it('when the body is not valid JSON, then 400 malformed-json', async () => {
    const { response, body } = await postCategoryAs('application/json', '{"slug": "x",');
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain(PROBLEM);
    expect((body as { type: string }).type).toBe('https://problems.node-stack.dev/malformed-json');
  });

  it('when the body is larger than the route allows, then 413', async () => {
    const items = Array.from({ length: 2_000 }, (_, i) => ({ productId: i + 1, quantity: 1 }));
    const { response, body } = await fixture.contract.call(
      `${fixture.api.url}/api/v1/orders`,
      'POST',
      '/api/v1/orders',
      {
        ...json({ items }, { ...fixture.customer.headers, 'Idempotency-Key': randomUUID() }),
      },
    );
    expect(response.status).toBe(413);
    expect((body as { type: string }).type).toBe('https://problems.node-stack.dev/payload-too-large');
  });

  it('when the body is not JSON, then 415 before anything is parsed', async () => {
    const { response, body } = await postCategoryAs('text/plain', 'slug=x');
    expect(response.status).toBe(415);
    expect((body as { type: string }).type).toBe('https://problems.node-stack.dev/unsupported-media-type');
    const form = await fixture.api.fetch('/api/v1/admin/categories', {
      method: 'POST',
      headers: fixture.admin.headers,
      body: new URLSearchParams({ slug: 'x' }),
    });
    expect(form.status).toBe(415);
  });

  it('when a known path gets another method, then 405 with Allow; an unknown path is 404', async () => {
    const wrong = await fixture.api.fetch('/api/v1/products', { method: 'POST' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD');
    expect(wrong.headers.get('content-type')).toContain(PROBLEM);
    const orders = await fixture.api.fetch('/api/v1/orders/1', { method: 'DELETE' });
    expect(orders.headers.get('allow')).toBe('GET, HEAD');
    const products = await fixture.api.fetch('/api/v1/admin/products/1', { method: 'GET' });
    expect(products.status).toBe(405);
    expect(products.headers.get('allow')).toBe('DELETE, PATCH');
    const unknown = await fixture.api.fetch('/api/v1/nothing-here');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { type: string }).type).toBe('https://problems.node-stack.dev/not-found');
  });

  it('when nginx sends a request id, then the response and the problem carry it', async () => {
    const id = `req-${randomUUID()}`;
    const response = await fixture.api.fetch('/api/v1/nothing-here', { headers: { 'X-Request-Id': id } });
    expect(response.headers.get('x-request-id')).toBe(id);
    expect(((await response.json()) as { requestId: string }).requestId).toBe(id);
    const forged = await fixture.api.fetch('/healthz', { headers: { 'X-Request-Id': 'bad id with spaces' } });
    expect(forged.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when Postgres is unreachable, then 503 with Retry-After, for public, customer and readiness alike', async () => {
    const down = await startApi({
      env: { DATABASE_URL: `postgres://app:app@127.0.0.1:${await closedPort()}/app` },
      cacheKeyPrefix: `${unique('t')}:`,
    });
    try {
      const downContract = fixture.contract;
      const read = await downContract.call(`${down.url}/api/v1/products/1`, 'GET', '/api/v1/products/{id}');
      expect(read.response.status).toBe(503);
      expect(read.response.headers.get('retry-after')).toBe('5');
      expect(JSON.stringify(read.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|postgres/i);
      const orders = await downContract.call(`${down.url}/api/v1/orders`, 'GET', '/api/v1/orders', {
        headers: fixture.customer.headers,
      });
      expect(orders.response.status).toBe(503);
      const ready = await downContract.call(`${down.url}/readyz`, 'GET', '/readyz');
      expect(ready.response.status).toBe(503);
      expect(ready.body).toMatchObject({ status: 'unavailable', checks: { postgres: false } });
    } finally {
      await down.close();
    }
  });

  it('when a query fails for a reason that is ours, then 500 carries only the request id', async () => {
    const scratch = await createScratchDatabase('api_errors');
    const broken = await startApi({ env: { DATABASE_URL: scratch.url }, cacheKeyPrefix: `${unique('t')}:` });
    try {
      const { response, body } = await fixture.contract.call(
        `${broken.url}/api/v1/categories`,
        'GET',
        '/api/v1/categories',
      );
      expect(response.status).toBe(500);
      const text = JSON.stringify(body);
      expect(text).not.toMatch(/relation|does not exist|SELECT|at .*\.ts/);
      expect((body as { detail: string; requestId: string }).detail).toContain(
        (body as { requestId: string }).requestId,
      );
    } finally {
      await broken.close();
      await scratch.drop();
    }
  });

  it('when a value passes the schema but Postgres refuses it (NUL character), then 422, not 500', async () => {
    const search = await fixture.contract.call(
      `${fixture.api.url}/api/v1/products?q=${encodeURIComponent('lamp\u0000')}`,
      'GET',
      '/api/v1/products',
    );
    expect(search.response.status).toBe(422);
    const created = await fixture.contract.call(
      `${fixture.api.url}/api/v1/admin/categories`,
      'POST',
      '/api/v1/admin/categories',
      {
        ...json({ slug: unique('nul'), name: 'bad\u0000name' }, fixture.admin.headers),
      },
    );
    expect(created.response.status).toBe(422);
    expect(JSON.stringify(created.body)).not.toMatch(/0x00|invalid byte/);
  });

  it('when the api drains, then readiness is 503 and responses close their connection; liveness stays 200', async () => {
    fixture.api.lifecycle.draining = true;
    try {
      const ready = await fixture.contract.call(`${fixture.api.url}/readyz`, 'GET', '/readyz');
      expect(ready.response.status).toBe(503);
      expect(ready.body).toMatchObject({ status: 'draining' });
      expect(ready.response.headers.get('connection')).toBe('close');
      expect((await fixture.contract.call(`${fixture.api.url}/healthz`, 'GET', '/healthz')).response.status).toBe(200);
    } finally {
      fixture.api.lifecycle.draining = false;
    }
    const ready = await fixture.contract.call(`${fixture.api.url}/readyz`, 'GET', '/readyz');
    expect(ready.response.status).toBe(200);
    expect(ready.body).toMatchObject({
      status: 'ready',
      checks: { postgres: true, redisCache: true, redisQueue: true },
    });
  });

  it('when a personal response is large and the client accepts gzip, then the compression middleware compresses it once', async () => {
    const buyer = await createUser(fixture.api.pool, 'customer');
    const catalog = await createCatalog(fixture.api.pool, 10);
    for (let i = 0; i < 6; i += 1) {
      await fixture.api.fetch('/api/v1/orders', {
        method: 'POST',
        ...json(
          { items: catalog.productIds.map((productId) => ({ productId, quantity: 1 })) },
          { ...buyer.headers, 'Idempotency-Key': randomUUID() },
        ),
      });
    }
    const { request } = await import('node:http');
    const url = new URL(`${fixture.api.url}/api/v1/orders?limit=100`);
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          headers: { ...buyer.headers, 'Accept-Encoding': 'gzip' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(headers['content-encoding']).toBe('gzip');
    expect(headers['cache-control']).toBe('private, no-store');
  });

  it('when its metrics port is scraped, then request durations are labelled by route template and the pool is reported', async () => {
    await fixture.api.fetch('/api/v1/products/2147483000');
    const text = await (await fetch(`http://127.0.0.1:${fixture.api.metricsPort}/metrics`)).text();
    expect(text).toMatch(
      /http_request_duration_seconds_count\{route="\/api\/v1\/products\/:id",method="GET",status="404"\} \d+/,
    );
    expect(text).toMatch(/db_pool_connections \d+/);
    expect(text).toMatch(/db_pool_waiting_requests \d+/);
    expect(text).toMatch(/db_pool_max_connections [1-9]\d*/);
    expect(text).toMatch(/db_pool_acquire_duration_seconds_count [1-9]\d*/);
    expect(text).toMatch(/^api_ready 1$/m);
    expect(text).toMatch(/response_cache_requests_total\{scope="product",outcome="miss"\} \d+/);
  });

  it('when the stack api replicas are scraped on their metrics port, then the same metrics are there (nginx does not expose it)', async () => {
    const metricsUrl = stack().apiMetricsUrls[0] as string;
    await fetch(`${stack().apiUrls[0]}/api/v1/categories`);
    const response = await fetch(metricsUrl);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain('http_request_duration_seconds_bucket');
    expect(text).toContain('response_cache_requests_total');
    expect(text).toContain('db_pool_connections');
    expect((await fetch(`${stack().nginxUrl}/metrics`)).status).toBe(404);
  });
});
