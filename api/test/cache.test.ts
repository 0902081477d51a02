/**
 * The cache against the running native stack: its two api replicas (separate processes sharing the
 * cache Redis) and the cache Redis itself, which one test stops and starts again. This is the only
 * file that stops redis-cache; it restarts it in `finally` because every other file shares the stack.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stack, start, stop } from '../../test/support/stack.js';
import {
  counterValue,
  createCatalog,
  createUser,
  json,
  startApi,
  type TestApi,
  type TestCatalog,
  type TestUser,
} from './support/api.js';

/** The cache command timeout the stack's api processes run with (core/src/config.ts default unless set). */
const commandTimeoutMs = Number(process.env.CACHE_COMMAND_TIMEOUT_MS ?? 150);

async function timed(url: string): Promise<{ status: number; ms: number; body: Record<string, unknown> }> {
  const started = performance.now();
  const response = await fetch(url);
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, ms: performance.now() - started, body };
}

describe('response cache across replicas', () => {
  let api: TestApi;
  let admin: TestUser;
  let catalog: TestCatalog;
  const [replica1, replica2] = [() => stack().apiUrls[0] as string, () => stack().apiUrls[1] as string];

  beforeAll(async () => {
    api = await startApi();
    admin = await createUser(api.pool, 'admin');
    catalog = await createCatalog(api.pool, 3, { stock: 50 });
  });
  afterAll(() => api.close());

  it('when a public read repeats, then the second is a cache hit with identical bytes', async () => {
    const path = `/api/v1/products/${catalog.productIds[0]}`;
    const labels = { scope: 'product', outcome: 'hit' };
    const hitsBefore = await counterValue(api.metrics, 'response_cache_requests_total', labels);
    const first = await api.fetch(path);
    const firstBody = await first.text();
    const second = await api.fetch(path);
    expect(await second.text()).toBe(firstBody);
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(await counterValue(api.metrics, 'response_cache_requests_total', labels)).toBe(hitsBefore + 1);
  });

  it('when an admin changes a product through one replica, then the next read on the other replica shows it', async () => {
    const id = catalog.productIds[1] as number;
    const listPath = `/api/v1/products?category=${catalog.slug}`;
    // Warm both replicas' view of the entry (the second read on each is a hit).
    for (const base of [replica1(), replica2(), replica1(), replica2()]) {
      expect((await timed(`${base}/api/v1/products/${id}`)).body.priceCents).toBe(200);
      await fetch(base + listPath).then((r) => r.arrayBuffer());
    }
    const patched = await fetch(`${replica1()}/api/v1/admin/products/${id}`, {
      method: 'PATCH',
      ...json({ priceCents: 12_345 }, admin.headers),
    });
    expect(patched.status).toBe(200);
    expect((await timed(`${replica2()}/api/v1/products/${id}`)).body.priceCents).toBe(12_345);
    const list = (await (await fetch(replica2() + listPath)).json()) as { data: { id: number; priceCents: number }[] };
    expect(list.data.find((p) => p.id === id)?.priceCents).toBe(12_345);
  });

  it('when an order changes stock through one replica, then the next detail read on the other replica shows the new stock', async () => {
    const id = catalog.productIds[2] as number;
    const customer = await createUser(api.pool, 'customer');
    await timed(`${replica2()}/api/v1/products/${id}`);
    expect((await timed(`${replica2()}/api/v1/products/${id}`)).body.stock).toBe(50);
    const order = await fetch(`${replica1()}/api/v1/orders`, {
      method: 'POST',
      ...json(
        { items: [{ productId: id, quantity: 7 }] },
        { ...customer.headers, 'Idempotency-Key': `cache-${Date.now()}-${id}` },
      ),
    });
    expect(order.status).toBe(201);
    expect((await timed(`${replica2()}/api/v1/products/${id}`)).body.stock).toBe(43);
  });

  it('when the cache Redis is stopped, then reads still answer 200 from Postgres within the command timeout, and writes stay visible', async () => {
    const id = catalog.productIds[0] as number;
    const customer = await createUser(api.pool, 'customer');
    await stop('redis-cache');
    try {
      const timings: number[] = [];
      for (let round = 0; round < 5; round += 1) {
        for (const base of [replica1(), replica2()]) {
          for (const path of [
            `/api/v1/products/${id}`,
            `/api/v1/products?category=${catalog.slug}`,
            '/api/v1/categories',
          ]) {
            const result = await timed(base + path);
            expect(result.status, `${base}${path}`).toBe(200);
            timings.push(result.ms);
          }
        }
      }
      // Every read finishes within the cache command timeout plus the Postgres query (one round trip here).
      console.info(
        `cache Redis stopped: ${timings.length} reads, all 200, slowest ${Math.max(...timings).toFixed(1)} ms`,
      );
      // (Margin for a loaded CI machine; a hung read would take far longer.)
      expect(Math.max(...timings)).toBeLessThan(commandTimeoutMs + 500);
      // Writes still work and the next read (from Postgres) shows them.
      const patched = await fetch(`${replica1()}/api/v1/admin/products/${id}`, {
        method: 'PATCH',
        ...json({ priceCents: 777 }, admin.headers),
      });
      expect(patched.status).toBe(200);
      expect((await timed(`${replica2()}/api/v1/products/${id}`)).body.priceCents).toBe(777);
      const order = await fetch(`${replica2()}/api/v1/orders`, {
        method: 'POST',
        ...json(
          { items: [{ productId: id, quantity: 1 }] },
          { ...customer.headers, 'Idempotency-Key': `nocache-${Date.now()}` },
        ),
      });
      expect(order.status).toBe(201);
      const ready = (await timed(`${replica1()}/readyz`)).body;
      expect(ready).toMatchObject({ status: 'ready', checks: { redisCache: false } });
    } finally {
      await start('redis-cache');
    }
    // Back: the replicas reconnect and serve from the cache again, with what Postgres holds now.
    const deadline = Date.now() + 10_000;
    let ready: Record<string, unknown> = {};
    while (Date.now() < deadline) {
      ready = (await timed(`${replica1()}/readyz`)).body;
      if ((ready.checks as { redisCache?: boolean } | undefined)?.redisCache) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(ready).toMatchObject({ checks: { redisCache: true } });
    expect((await timed(`${replica1()}/api/v1/products/${id}`)).body.priceCents).toBe(777);
  });
});
