/**
 * The order lifecycle against real Postgres and Redis (issue 11, "Inventory hoarding"): a pending order's hold
 * lapses once, a cancel racing the lapse returns the stock once, the caps answer 422 naming the cap, and the
 * per-token write limit answers 429 from the api itself (this api is reached directly: nginx is not in the way).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireLapsedOrders, type Pool } from '@stack/core';
import { createCatalog, createUser, json, startApi, type TestUser } from './support/api.js';
import { fetchContract } from './support/contract.js';

interface OrderBody {
  id: number;
  status: string;
  holdUntil: string | null;
}

interface Problem {
  type: string;
  status: number;
  detail: string;
  cap?: string;
  limit?: number;
}

/** An api of its own, its contract, and calls that check every answer against the contract. */
async function lifecycleApi(env: Record<string, string> = {}) {
  const api = await startApi({ env });
  const contract = await fetchContract(api.url);
  const place = (user: TestUser, items: { productId: number; quantity: number }[]) =>
    contract.call(api.url + '/api/v1/orders', 'POST', '/api/v1/orders', {
      method: 'POST',
      ...json({ items }, { ...user.headers, 'Idempotency-Key': randomUUID() }),
    });
  const cancel = (user: TestUser, id: number) =>
    contract.call(`${api.url}/api/v1/orders/${id}/cancel`, 'POST', '/api/v1/orders/{id}/cancel', {
      method: 'POST',
      headers: user.headers,
    });
  const pay = (user: TestUser, id: number) =>
    contract.call(`${api.url}/api/v1/admin/orders/${id}/pay`, 'POST', '/api/v1/admin/orders/{id}/pay', {
      method: 'POST',
      headers: user.headers,
    });
  return { api, contract, place, cancel, pay };
}

const stockOf = async (pool: Pool, productId: number): Promise<number | undefined> =>
  (await pool.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [productId])).rows[0]?.stock;

const statusOf = async (pool: Pool, orderId: number): Promise<string | undefined> =>
  (await pool.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [orderId])).rows[0]?.status;

/** Ends the holds of these orders now (as if ORDER_HOLD_SECONDS had passed). */
const lapse = (pool: Pool, orderIds: number[]) =>
  pool.query(`UPDATE orders SET hold_until = now() - interval '1 second' WHERE id = ANY($1::bigint[])`, [orderIds]);

/** Units of this product in live orders (pending, paid, shipped): with current stock, they add up to the initial. */
const liveUnits = async (pool: Pool, productId: number): Promise<number> =>
  (
    await pool.query<{ units: number }>(
      `SELECT coalesce(sum(i.quantity), 0)::int AS units FROM order_items i JOIN orders o ON o.id = i.order_id
        WHERE i.product_id = $1 AND o.status IN ('pending', 'paid', 'shipped')`,
      [productId],
    )
  ).rows[0]?.units ?? -1;

describe('order lifecycle: lapse, cancel, pay', () => {
  let setup: Awaited<ReturnType<typeof lifecycleApi>>;
  let customer: TestUser;
  let other: TestUser;
  let admin: TestUser;
  beforeAll(async () => {
    setup = await lifecycleApi();
    [customer, other, admin] = await Promise.all([
      createUser(setup.api.pool, 'customer'),
      createUser(setup.api.pool, 'customer'),
      createUser(setup.api.pool, 'admin'),
    ]);
  });
  afterAll(() => setup.api.close());

  it('when an order is placed, then it is pending and holds its stock until holdUntil (ORDER_HOLD_SECONDS)', async () => {
    const [productId] = (await createCatalog(setup.api.pool, 1, { stock: 10 })).productIds as [number];
    const { response, body } = await setup.place(customer, [{ productId, quantity: 4 }]);
    expect(response.status).toBe(201);
    const order = body as OrderBody;
    expect(order.status).toBe('pending');
    const holdMs = Date.parse(order.holdUntil ?? '') - Date.now();
    expect(holdMs).toBeGreaterThan(880_000);
    expect(holdMs).toBeLessThanOrEqual(900_000);
    expect(await stockOf(setup.api.pool, productId)).toBe(6);
  });

  it('when a hold lapses and the lapse runs twice (and twice at once), then the order expires and its stock returns once', async () => {
    const { pool } = setup.api;
    const [productId] = (await createCatalog(pool, 1, { stock: 10 })).productIds as [number];
    const order = (await setup.place(customer, [{ productId, quantity: 3 }])).body as OrderBody;
    expect(await stockOf(pool, productId)).toBe(7);
    await lapse(pool, [order.id]);
    await expireLapsedOrders(pool, { batchSize: 100 });
    await expireLapsedOrders(pool, { batchSize: 100 });
    await Promise.all([expireLapsedOrders(pool, { batchSize: 1 }), expireLapsedOrders(pool, { batchSize: 1 })]);
    expect(await statusOf(pool, order.id)).toBe('expired');
    expect(await stockOf(pool, productId)).toBe(10);
    // Expired is final: no cancel, no payment.
    expect((await setup.cancel(customer, order.id)).response.status).toBe(409);
    expect((await setup.pay(admin, order.id)).response.status).toBe(409);
    expect(await stockOf(pool, productId)).toBe(10);
  });

  it('when cancels race the lapse for many orders, then each order ends once and the stock invariant holds', async () => {
    const { pool } = setup.api;
    const initial = 1_000;
    const [productId] = (await createCatalog(pool, 1, { stock: initial })).productIds as [number];
    for (let round = 0; round < 5; round += 1) {
      const orders = await Promise.all(
        Array.from(
          { length: 10 },
          async () => ((await setup.place(customer, [{ productId, quantity: 2 }])).body as OrderBody).id,
        ),
      );
      await lapse(pool, orders);
      const [cancels] = await Promise.all([
        Promise.all(orders.map((id) => setup.cancel(customer, id))),
        expireLapsedOrders(pool, { batchSize: 3 }),
        expireLapsedOrders(pool, { batchSize: 3 }),
      ]);
      for (const [index, { response, body }] of cancels.entries()) {
        const status = await statusOf(pool, orders[index] as number);
        // The cancel won (200, cancelled) or the lapse did (409, expired): never both.
        expect([response.status, status]).toEqual(response.status === 200 ? [200, 'cancelled'] : [409, 'expired']);
        if (response.status === 200) expect((body as OrderBody).status).toBe('cancelled');
      }
      expect(await stockOf(pool, productId)).toBe(initial);
    }
    // One order still live: initial stock = current stock + units in live orders.
    expect((await setup.place(customer, [{ productId, quantity: 2 }])).response.status).toBe(201);
    expect(((await stockOf(pool, productId)) ?? 0) + (await liveUnits(pool, productId))).toBe(initial);
  });

  it("when a customer cancels, then their pending order is cancelled once; another customer's order is a 404", async () => {
    const { pool } = setup.api;
    const [productId] = (await createCatalog(pool, 1, { stock: 10 })).productIds as [number];
    const order = (await setup.place(customer, [{ productId, quantity: 5 }])).body as OrderBody;
    const foreign = await setup.cancel(other, order.id);
    expect(foreign.response.status).toBe(404);
    expect((foreign.body as Problem).type).toMatch(/not-found$/);
    expect(await statusOf(pool, order.id)).toBe('pending');
    expect(await stockOf(pool, productId)).toBe(5);
    const first = await setup.cancel(customer, order.id);
    expect(first.response.status).toBe(200);
    expect((first.body as OrderBody).status).toBe('cancelled');
    expect(await stockOf(pool, productId)).toBe(10);
    // Repeating the cancel (a retried request) changes nothing.
    expect((await setup.cancel(customer, order.id)).response.status).toBe(200);
    expect(await stockOf(pool, productId)).toBe(10);
    expect((await setup.cancel(customer, 9_007_199_254_740_991)).response.status).toBe(404);
  });

  it('when an admin marks an order paid, then it keeps its stock and no longer lapses; customers may not', async () => {
    const { pool } = setup.api;
    const [productId] = (await createCatalog(pool, 1, { stock: 10 })).productIds as [number];
    const order = (await setup.place(customer, [{ productId, quantity: 2 }])).body as OrderBody;
    expect((await setup.pay(customer, order.id)).response.status).toBe(403);
    const paid = await setup.pay(admin, order.id);
    expect(paid.response.status).toBe(200);
    expect((paid.body as OrderBody).status).toBe('paid');
    expect((await setup.pay(admin, order.id)).response.status).toBe(200);
    await lapse(pool, [order.id]);
    await expireLapsedOrders(pool, { batchSize: 100 });
    expect(await statusOf(pool, order.id)).toBe('paid');
    expect(await stockOf(pool, productId)).toBe(8);
    expect((await setup.cancel(customer, order.id)).response.status).toBe(409);
    expect((await setup.pay(admin, 9_007_199_254_740_991)).response.status).toBe(404);
  });

  it("when a hold lapses, then the stack's worker expires the order on its schedule (ORDER_LAPSE_INTERVAL_MS)", async () => {
    const { pool } = setup.api;
    const [productId] = (await createCatalog(pool, 1, { stock: 10 })).productIds as [number];
    const order = (await setup.place(customer, [{ productId, quantity: 1 }])).body as OrderBody;
    await lapse(pool, [order.id]);
    const deadline = Date.now() + 40_000;
    while ((await statusOf(pool, order.id)) === 'pending' && Date.now() < deadline) await sleep(500);
    expect(await statusOf(pool, order.id)).toBe('expired');
    expect(await stockOf(pool, productId)).toBe(10);
  }, 60_000);
});

describe('order caps', () => {
  let setup: Awaited<ReturnType<typeof lifecycleApi>>;
  beforeAll(async () => {
    setup = await lifecycleApi({ ORDER_MAX_LINES: '2', ORDER_MAX_UNITS: '5', CUSTOMER_MAX_HELD_UNITS: '8' });
  });
  afterAll(() => setup.api.close());

  const expectCap = (answer: { response: Response; body: unknown }, cap: string, limit: number, detail: RegExp) => {
    expect(answer.response.status).toBe(422);
    expect(answer.response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(answer.body).toMatchObject({ type: expect.stringMatching(/order-limit$/), status: 422, cap, limit });
    expect((answer.body as Problem).detail).toMatch(detail);
  };

  it('when an order has too many items or units, or the customer would hold too many, then 422 names the cap', async () => {
    const { pool } = setup.api;
    const customer = await createUser(pool, 'customer');
    const [a, b, c] = (await createCatalog(pool, 3, { stock: 100 })).productIds as [number, number, number];
    const threeItems = [a, b, c].map((productId) => ({ productId, quantity: 1 }));
    expectCap(await setup.place(customer, threeItems), 'itemsPerOrder', 2, /at most 2 items; this one has 3/);
    expectCap(await setup.place(customer, [{ productId: a, quantity: 6 }]), 'unitsPerOrder', 5, /at most 5 units/);
    expect(await stockOf(pool, a)).toBe(100);

    const first = await setup.place(customer, [{ productId: a, quantity: 5 }]);
    expect(first.response.status).toBe(201);
    const overHeld = await setup.place(customer, [{ productId: b, quantity: 4 }]);
    expectCap(overHeld, 'heldUnitsPerCustomer', 8, /at most 8 units in pending orders at once; you hold 5/);
    expect(await stockOf(pool, b)).toBe(100);
    // Another customer has a cap of their own; paying or cancelling frees the caller's.
    expect(
      (await setup.place(await createUser(pool, 'customer'), [{ productId: b, quantity: 4 }])).response.status,
    ).toBe(201);
    expect((await setup.cancel(customer, (first.body as OrderBody).id)).response.status).toBe(200);
    expect((await setup.place(customer, [{ productId: b, quantity: 4 }])).response.status).toBe(201);
  });

  it('when one customer places many orders at once, then together they never pass the held-units cap', async () => {
    const { pool } = setup.api;
    const customer = await createUser(pool, 'customer');
    const [productId] = (await createCatalog(pool, 1, { stock: 100 })).productIds as [number];
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => setup.place(customer, [{ productId, quantity: 3 }])),
    );
    expect(answers.filter((answer) => answer.response.status === 201)).toHaveLength(2);
    expect(answers.filter((answer) => answer.response.status === 422)).toHaveLength(8);
    expect(await stockOf(pool, productId)).toBe(94);
  });
});

describe('per-token write limit', () => {
  let setup: Awaited<ReturnType<typeof lifecycleApi>>;
  beforeAll(async () => {
    setup = await lifecycleApi({ API_WRITE_BURST: '10', API_WRITE_RATE_PER_SECOND: '1' });
  });
  afterAll(() => setup.api.close());

  it('when one token sends 50 orders at once beyond its write limit, then the api answers 429 with Retry-After to the excess', async () => {
    const { pool } = setup.api;
    const [customer, neighbour] = await Promise.all([createUser(pool, 'customer'), createUser(pool, 'customer')]);
    const [productId] = (await createCatalog(pool, 1, { stock: 1_000 })).productIds as [number];
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => setup.place(customer, [{ productId, quantity: 1 }])),
    );
    const placed = answers.filter((answer) => answer.response.status === 201);
    const limited = answers.filter((answer) => answer.response.status === 429);
    // The burst, plus at most what refills (1 per second) while the 50 are answered.
    expect(placed.length).toBeGreaterThanOrEqual(10);
    expect(placed.length).toBeLessThanOrEqual(13);
    expect(placed.length + limited.length).toBe(50);
    for (const { response, body } of limited) {
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((body as Problem).type).toMatch(/rate-limited$/);
      expect((body as Problem).detail).toMatch(/more than 10 writes/);
    }
    expect(await stockOf(pool, productId)).toBe(1_000 - placed.length);
    // The bucket is the token's: another customer's token writes on, and reads are not limited.
    expect((await setup.place(neighbour, [{ productId, quantity: 1 }])).response.status).toBe(201);
    expect((await setup.api.fetch('/api/v1/orders', { headers: customer.headers })).status).toBe(200);
  });
});
