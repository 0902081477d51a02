/**
 * Webhooks end to end: an admin registers an endpoint (a local receiver), a customer places an order
 * through the api, the outbox event travels relay -> events queue -> one delivery -> webhooks queue,
 * and the receiver gets signed requests. The stack's worker runs with 3 attempts and a 200-800 ms
 * backoff (FAST_WORKER_ENV).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '@stack/core';
import {
  bearer,
  deliveryOf as deliveryFor,
  FAST_WORKER_ENV,
  placeOrder as placeOrderAs,
  sleep,
  startReceiver,
  startShop,
  type Delivery,
  type TestApi,
  waitFor,
} from './support.js';

let api: TestApi;
let admin: { token: string };
let customer: { token: string };
let productId: number;
const endpoints: number[] = [];

beforeAll(async () => {
  ({ api, admin, customer, productId } = await startShop());
});

afterAll(async () => {
  // Endpoints left behind would receive every later test's orders.
  for (const id of endpoints)
    await fetch(`${api.url}/api/v1/admin/webhooks/${id}`, { method: 'DELETE', headers: bearer(admin.token) });
  await api?.close();
});

async function register(url: string): Promise<{ id: number; secret: string }> {
  const response = await fetch(`${api.url}/api/v1/admin/webhooks`, {
    method: 'POST',
    headers: { ...bearer(admin.token), 'Content-Type': 'application/json' },
    body: JSON.stringify({ url, eventTypes: ['order.created'] }),
  });
  expect(response.status).toBe(201);
  const endpoint = (await response.json()) as { id: number; secret: string };
  endpoints.push(endpoint.id);
  return endpoint;
}

const placeOrder = () => placeOrderAs(api, customer.token, productId);
const deliveryOf = (endpointId: number, orderId: number) => deliveryFor(api.pool, endpointId, orderId);

describe('webhooks', () => {
  it('when the receiver fails twice and then accepts, then it gets three signed attempts with one delivery id', async () => {
    let calls = 0;
    const receiver = await startReceiver(() => (++calls <= 2 ? 500 : 204));
    try {
      const endpoint = await register(receiver.url);
      expect(endpoint.secret).toMatch(/^whsec_/);
      const orderId = await placeOrder();

      const hooks = await waitFor('three attempts', () => {
        const mine = receiver.forOrder(orderId);
        return mine.length >= 3 ? mine : undefined;
      });
      await waitFor('delivered', async () => (await deliveryOf(endpoint.id, orderId))?.status === 'delivered');
      expect(await deliveryOf(endpoint.id, orderId)).toMatchObject({
        status: 'delivered',
        attempts: 3,
        lastStatusCode: 204,
        lastError: null,
      });

      const ids = new Set(hooks.map((hook) => hook.headers['webhook-id']));
      expect(ids.size).toBe(1);
      expect([...ids][0]).toBe(hooks[0]?.json.id);
      for (const hook of hooks) {
        expect(hook.headers['content-type']).toBe('application/json');
        expect(hook.headers['webhook-event']).toBe('order.created');
        expect(hook.json).toMatchObject({
          type: 'order.created',
          data: { orderId, items: [{ productId, quantity: 1 }] },
        });
        const signature = hook.headers['webhook-signature'] as string;
        expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
        expect(verifySignature(endpoint.secret, signature, hook.body, { toleranceSeconds: 300 })).toBe(true);
        expect(verifySignature('whsec_wrong', signature, hook.body, { toleranceSeconds: 300 })).toBe(false);
      }
      // Retries are spaced by the backoff (base 200 ms, equal jitter: at least 100 ms, then 200 ms).
      const gaps = hooks.slice(1).map((hook, i) => hook.at - (hooks[i] as { at: number }).at);
      expect(gaps[0]).toBeGreaterThanOrEqual(90);
      expect(gaps[1]).toBeGreaterThanOrEqual(190);
    } finally {
      await receiver.close();
    }
  });

  it('when the receiver keeps failing, then the delivery is dead-lettered after the bound and an admin can re-drive it', async () => {
    let healthy = false;
    const receiver = await startReceiver(() => (healthy ? 200 : 503));
    try {
      const endpoint = await register(receiver.url);
      const orderId = await placeOrder();
      const maxAttempts = Number(FAST_WORKER_ENV.WEBHOOK_MAX_ATTEMPTS);

      const dead = await waitFor('dead letter', async () => {
        const delivery = await deliveryOf(endpoint.id, orderId);
        return delivery?.status === 'dead' ? delivery : undefined;
      });
      expect(dead).toMatchObject({ attempts: maxAttempts, lastStatusCode: 503 });
      expect(dead.lastError).toBe('gave up after attempt 3: http_5xx');
      await sleep(1_000);
      expect(receiver.forOrder(orderId)).toHaveLength(maxAttempts);

      // The admin's dead-letter list shows it (paging through, newest first).
      let found: Delivery | undefined;
      let cursor: string | null = null;
      do {
        const page = (await (
          await fetch(
            `${api.url}/api/v1/admin/webhook-deliveries?status=dead&limit=5${cursor ? `&cursor=${cursor}` : ''}`,
            {
              headers: bearer(admin.token),
            },
          )
        ).json()) as { data: Delivery[]; nextCursor: string | null };
        found = page.data.find((delivery) => delivery.id === dead.id);
        cursor = page.nextCursor;
      } while (!found && cursor);
      expect(found).toMatchObject({ id: dead.id, status: 'dead', attempts: maxAttempts });

      healthy = true;
      const redrive = await fetch(`${api.url}/api/v1/admin/webhook-deliveries/${dead.id}/redrive`, {
        method: 'POST',
        headers: bearer(admin.token),
      });
      expect(redrive.status).toBe(202);
      expect(await redrive.json()).toMatchObject({ id: dead.id, status: 'pending' });
      await waitFor('re-driven delivery', async () => (await deliveryOf(endpoint.id, orderId))?.status === 'delivered');
      const hooks = receiver.forOrder(orderId);
      expect(hooks).toHaveLength(maxAttempts + 1);
      expect(new Set(hooks.map((hook) => hook.headers['webhook-id']))).toEqual(new Set([dead.id]));

      // Only a dead delivery can be re-driven; an unknown one is a 404.
      const again = await fetch(`${api.url}/api/v1/admin/webhook-deliveries/${dead.id}/redrive`, {
        method: 'POST',
        headers: bearer(admin.token),
      });
      expect(again.status).toBe(409);
      const unknown = await fetch(
        `${api.url}/api/v1/admin/webhook-deliveries/00000000-0000-4000-8000-000000000000/redrive`,
        {
          method: 'POST',
          headers: bearer(admin.token),
        },
      );
      expect(unknown.status).toBe(404);
    } finally {
      await receiver.close();
    }
  });

  it('when an endpoint is registered with a bad url or event type, then it is a 422, and secrets are never listed', async () => {
    const bad = await fetch(`${api.url}/api/v1/admin/webhooks`, {
      method: 'POST',
      headers: { ...bearer(admin.token), 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: 'ftp://example.com/x', eventTypes: ['order.deleted'] }),
    });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { errors: { path: string }[] }).errors.map((error) => error.path).sort()).toEqual([
      'body.eventTypes.0',
      'body.url',
    ]);
    const list = (await (await fetch(`${api.url}/api/v1/admin/webhooks`, { headers: bearer(admin.token) })).json()) as {
      data: Record<string, unknown>[];
    };
    expect(list.data.length).toBeGreaterThan(0);
    for (const endpoint of list.data) expect(endpoint).not.toHaveProperty('secret');
  });
});
