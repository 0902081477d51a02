import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalog, createUser, json, startApi, type TestApi, type TestUser } from './support/api.js';
import { fetchContract, type Contract } from './support/contract.js';

interface OrderBody {
  id: number;
  status: string;
  totalCents: number;
  createdAt: string;
  items: { productId: number; quantity: number; unitPriceCents: number }[];
}

describe('orders', () => {
  let api: TestApi;
  let contract: Contract;
  let customer: TestUser;
  let other: TestUser;
  let admin: TestUser;

  beforeAll(async () => {
    api = await startApi({ env: { PG_POOL_MAX: '10' } });
    contract = await fetchContract(api.url);
    [customer, other, admin] = await Promise.all([
      createUser(api.pool, 'customer'),
      createUser(api.pool, 'customer'),
      createUser(api.pool, 'admin'),
    ]);
  });
  afterAll(() => api.close());

  /** `key` null: no Idempotency-Key header at all. */
  const placeOrder = (user: TestUser, items: unknown, key: string | null = randomUUID()) =>
    contract.call(api.url + '/api/v1/orders', 'POST', '/api/v1/orders', {
      ...json({ items }, { ...user.headers, ...(key === null ? {} : { 'Idempotency-Key': key }) }),
    });
  const stockOf = async (productId: number) =>
    (await api.pool.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [productId])).rows[0]?.stock;
  const countOrders = async (userId: number) =>
    (await api.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM orders WHERE user_id = $1', [userId])).rows[0]
      ?.n;

  it('when a customer orders, then stock drops, the order is 201 with a Location, and an order.created event is in the outbox', async () => {
    const catalog = await createCatalog(api.pool, 2, { stock: 10 });
    const [a, b] = catalog.productIds as [number, number];
    const { response, body } = await placeOrder(customer, [
      { productId: b, quantity: 2 },
      { productId: a, quantity: 3 },
    ]);
    expect(response.status).toBe(201);
    const order = body as OrderBody;
    expect(response.headers.get('location')).toBe(`/api/v1/orders/${order.id}`);
    expect(response.headers.get('cache-control')).toBe('private, no-store');
    expect(order).toMatchObject({
      status: 'pending',
      totalCents: 3 * 100 + 2 * 200,
      items: [
        { productId: a, quantity: 3, unitPriceCents: 100 },
        { productId: b, quantity: 2, unitPriceCents: 200 },
      ],
    });
    expect(await stockOf(a)).toBe(7);
    expect(await stockOf(b)).toBe(8);
    const { rows } = await api.pool.query<{ payload: Record<string, unknown> }>(
      `SELECT payload FROM outbox WHERE event_type = 'order.created' AND (payload->>'orderId')::bigint = $1`,
      [order.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]?.payload).toMatchObject({ orderId: order.id, userId: customer.id, totalCents: 700 });
  });

  it('when the same key and body are sent again, then the first response is replayed and nothing new is created', async () => {
    const catalog = await createCatalog(api.pool, 1, { stock: 10 });
    const productId = catalog.productIds[0] as number;
    const key = randomUUID();
    const first = await placeOrder(customer, [{ productId, quantity: 4 }], key);
    const ordersBefore = await countOrders(customer.id);
    const replays = await Promise.all([1, 2, 3].map(() => placeOrder(customer, [{ productId, quantity: 4 }], key)));
    for (const replay of replays) {
      expect(replay.response.status).toBe(201);
      expect(replay.response.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body).toEqual(first.body);
    }
    expect(await countOrders(customer.id)).toBe(ordersBefore);
    expect(await stockOf(productId)).toBe(6);
    const events = await api.pool.query(
      `SELECT 1 FROM outbox WHERE event_type = 'order.created' AND (payload->>'orderId')::bigint = $1`,
      [(first.body as OrderBody).id],
    );
    expect(events.rows).toHaveLength(1);
  });

  it('when one key is sent by several requests at once, then exactly one order is placed and all get its response', async () => {
    const catalog = await createCatalog(api.pool, 1, { stock: 10 });
    const productId = catalog.productIds[0] as number;
    const key = randomUUID();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => placeOrder(customer, [{ productId, quantity: 1 }], key)),
    );
    expect(results.map((r) => r.response.status)).toEqual([201, 201, 201, 201, 201]);
    expect(new Set(results.map((r) => (r.body as OrderBody).id)).size).toBe(1);
    expect(results.filter((r) => r.response.headers.get('idempotent-replayed') === 'true')).toHaveLength(4);
    expect(await stockOf(productId)).toBe(9);
  });

  it('when a key is reused with another body, then 422 and nothing is ordered', async () => {
    const catalog = await createCatalog(api.pool, 1, { stock: 10 });
    const productId = catalog.productIds[0] as number;
    const key = randomUUID();
    await placeOrder(customer, [{ productId, quantity: 1 }], key);
    const { response, body } = await placeOrder(customer, [{ productId, quantity: 2 }], key);
    expect(response.status).toBe(422);
    expect((body as { type: string }).type).toBe('https://problems.node-stack.dev/idempotency-key-reused');
    expect(await stockOf(productId)).toBe(9);
    // Keys are per customer: another customer may use the same key.
    expect((await placeOrder(other, [{ productId, quantity: 2 }], key)).response.status).toBe(201);
  });

  it('when stock is short, then 409 lists every short item and nothing changes; the key stays usable', async () => {
    const catalog = await createCatalog(api.pool, 2, { stock: 3 });
    const [a, b] = catalog.productIds as [number, number];
    const key = randomUUID();
    const { response, body } = await placeOrder(
      customer,
      [
        { productId: a, quantity: 2 },
        { productId: b, quantity: 5 },
      ],
      key,
    );
    expect(response.status).toBe(409);
    expect(body).toMatchObject({
      type: 'https://problems.node-stack.dev/insufficient-stock',
      items: [{ productId: b, requested: 5, available: 3 }],
    });
    expect([await stockOf(a), await stockOf(b)]).toEqual([3, 3]);
    await api.pool.query('UPDATE products SET stock = 5 WHERE id = $1', [b]);
    expect(
      (
        await placeOrder(
          customer,
          [
            { productId: a, quantity: 2 },
            { productId: b, quantity: 5 },
          ],
          key,
        )
      ).response.status,
    ).toBe(201);
  });

  it('when many customers race for the last unit, then exactly one order succeeds and stock never goes negative', async () => {
    const catalog = await createCatalog(api.pool, 1, { stock: 1 });
    const productId = catalog.productIds[0] as number;
    const racers = await Promise.all(Array.from({ length: 8 }, () => createUser(api.pool, 'customer')));
    const results = await Promise.all(racers.map((racer) => placeOrder(racer, [{ productId, quantity: 1 }])));
    const statuses = results.map((r) => r.response.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    expect(await stockOf(productId)).toBe(0);
    const orders = await api.pool.query('SELECT 1 FROM order_items WHERE product_id = $1', [productId]);
    expect(orders.rows).toHaveLength(1);
  });

  it('when orders overlap in products in opposite orders, then all complete (no deadlock)', async () => {
    const catalog = await createCatalog(api.pool, 3, { stock: 1_000 });
    const [a, b, c] = catalog.productIds as [number, number, number];
    const shapes = [
      [a, b, c],
      [c, b, a],
      [b, c, a],
      [c, a, b],
    ];
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        placeOrder(
          customer,
          (shapes[i % 4] as number[]).map((productId) => ({ productId, quantity: 1 })),
        ),
      ),
    );
    expect(results.every((r) => r.response.status === 201)).toBe(true);
    expect([await stockOf(a), await stockOf(b), await stockOf(c)]).toEqual([988, 988, 988]);
  });

  it('when the order is invalid, then 422 names the fields: missing key, duplicates, unknown or inactive products, bad quantities', async () => {
    const catalog = await createCatalog(api.pool, 2);
    const [a, inactive] = catalog.productIds as [number, number];
    await api.pool.query('UPDATE products SET active = false WHERE id = $1', [inactive]);
    const cases: [unknown, string | null, string[]][] = [
      [[{ productId: a, quantity: 1 }], null, ['headers.idempotency-key']],
      [[{ productId: a, quantity: 1 }], 'short', ['headers.idempotency-key']],
      [[], randomUUID(), ['body.items']],
      [[{ productId: a, quantity: 0 }], randomUUID(), ['body.items.0.quantity']],
      [[{ productId: a, quantity: 1, price: 1 }], randomUUID(), ['body.items.0.price']],
      [
        [
          { productId: a, quantity: 1 },
          { productId: a, quantity: 2 },
        ],
        randomUUID(),
        ['body.items.1.productId'],
      ],
      [
        [
          { productId: a, quantity: 1 },
          { productId: inactive, quantity: 1 },
          { productId: 2_147_483_000, quantity: 1 },
        ],
        randomUUID(),
        ['body.items.1.productId', 'body.items.2.productId'],
      ],
    ];
    for (const [items, key, paths] of cases) {
      const { response, body } = await placeOrder(customer, items, key);
      expect(response.status, JSON.stringify(items)).toBe(422);
      expect((body as { errors: { path: string }[] }).errors.map((e) => e.path)).toEqual(paths);
    }
  });

  it("when orders are listed, then only the caller's come, newest first, page by page", async () => {
    const lister = await createUser(api.pool, 'customer');
    const catalog = await createCatalog(api.pool, 1, { stock: 100 });
    const placed: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      placed.push(
        ((await placeOrder(lister, [{ productId: catalog.productIds[0], quantity: 1 }])).body as OrderBody).id,
      );
    }
    await placeOrder(other, [{ productId: catalog.productIds[0], quantity: 1 }]);
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const { response, body } = await contract.call(
        `${api.url}/api/v1/orders?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        'GET',
        '/api/v1/orders',
        { headers: lister.headers },
      );
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('private, no-store');
      const page = body as { data: OrderBody[]; nextCursor: string | null };
      seen.push(...page.data.map((order) => order.id));
      for (const order of page.data) expect(order.items).toHaveLength(1);
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...placed].reverse());
    const bad = await contract.call(`${api.url}/api/v1/orders?cursor=WzEsMl0`, 'GET', '/api/v1/orders', {
      headers: lister.headers,
    });
    expect(bad.response.status).toBe(422);
  });

  it("when a customer reads another customer's order, then 404 as for one that does not exist", async () => {
    const catalog = await createCatalog(api.pool, 1);
    const mine = (await placeOrder(customer, [{ productId: catalog.productIds[0], quantity: 1 }])).body as OrderBody;
    const own = await contract.call(`${api.url}/api/v1/orders/${mine.id}`, 'GET', '/api/v1/orders/{id}', {
      headers: customer.headers,
    });
    expect(own.response.status).toBe(200);
    expect(own.body).toEqual(mine);
    const theirs = await contract.call(`${api.url}/api/v1/orders/${mine.id}`, 'GET', '/api/v1/orders/{id}', {
      headers: other.headers,
    });
    const missing = await contract.call(`${api.url}/api/v1/orders/999999999999`, 'GET', '/api/v1/orders/{id}', {
      headers: other.headers,
    });
    expect(theirs.response.status).toBe(404);
    expect(missing.response.status).toBe(404);
    expect((theirs.body as { detail: string }).detail).toBe(`You have no order ${mine.id}.`);
  });

  it('when the caller is anonymous, uses a bad or revoked token, or is an admin, then 401 or 403', async () => {
    const anonymous = await contract.call(`${api.url}/api/v1/orders`, 'GET', '/api/v1/orders');
    expect(anonymous.response.status).toBe(401);
    expect(anonymous.response.headers.get('www-authenticate')).toBe('Bearer');
    const malformed = await contract.call(`${api.url}/api/v1/orders`, 'GET', '/api/v1/orders', {
      headers: { Authorization: 'Basic abc' },
    });
    expect(malformed.response.status).toBe(401);
    const unknown = await contract.call(`${api.url}/api/v1/orders`, 'GET', '/api/v1/orders', {
      headers: { Authorization: `Bearer stk_${'x'.repeat(43)}` },
    });
    expect(unknown.response.status).toBe(401);
    const forbidden = await contract.call(`${api.url}/api/v1/orders`, 'GET', '/api/v1/orders', {
      headers: admin.headers,
    });
    expect(forbidden.response.status).toBe(403);
    const post = await placeOrder(admin, [{ productId: 1, quantity: 1 }]);
    expect(post.response.status).toBe(403);
    const revoked = await createUser(api.pool, 'customer');
    await api.pool.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1', [revoked.tokenId]);
    expect((await api.fetch('/api/v1/orders', { headers: revoked.headers })).status).toBe(401);
    const expired = await createUser(api.pool, 'customer');
    await api.pool.query(`UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [
      expired.tokenId,
    ]);
    expect((await api.fetch('/api/v1/orders', { headers: expired.headers })).status).toBe(401);
  });
});
