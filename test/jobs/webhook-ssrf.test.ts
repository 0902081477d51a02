/**
 * SSRF through webhook URLs, end to end: the api refuses private targets at registration, the worker refuses them
 * again when it connects (an endpoint stored before the check, or a name that resolves elsewhere by now), and a
 * failed attempt stores a generic class, never the raw cause.
 *
 * SAFETY: every URL here is loopback or a name that is refused before any DNS query; nothing is ever sent beyond
 * this machine. The worker runs with FAST_WORKER_ENV, whose allow-list admits 127.0.0.1 only (the tests' own
 * receivers); 127.0.0.2 is loopback too, and outside it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  deliveryOf,
  FAST_WORKER_ENV,
  placeOrder,
  sleep,
  startApi,
  startReceiver,
  startShop,
  type TestApi,
  waitFor,
} from './support.js';

let shop: Awaited<ReturnType<typeof startShop>>;
let strictApi: TestApi;
const endpointIds: number[] = [];

beforeAll(async () => {
  shop = await startShop();
  strictApi = await startApi({ webhookPolicy: 'default' });
});

afterAll(async () => {
  if (endpointIds.length > 0)
    await shop.api.pool.query(`DELETE FROM webhook_endpoints WHERE id = ANY($1)`, [endpointIds]);
  await strictApi?.close();
  await shop?.api.close();
});

const register = (target: TestApi, url: string) =>
  fetch(`${target.url}/api/v1/admin/webhooks`, {
    method: 'POST',
    headers: { ...bearer(shop.admin.token), 'Content-Type': 'application/json' },
    body: JSON.stringify({ url, eventTypes: ['order.created'] }),
  });

/** An endpoint written straight to the table, as one registered before the policy existed would be. */
async function storeEndpoint(url: string): Promise<number> {
  const { rows } = await shop.api.pool.query<{ id: number }>(
    `INSERT INTO webhook_endpoints (url, clear_secret, event_types) VALUES ($1, 'whsec_test', '{order.created}') RETURNING id`,
    [url],
  );
  const id = (rows[0] as { id: number }).id;
  endpointIds.push(id);
  return id;
}

/** Places an order and waits until its delivery to `endpointId` is dead-lettered. */
async function deadDeliveryOfNewOrder(endpointId: number) {
  const orderId = await placeOrder(shop.api, shop.customer.token, shop.productId);
  return waitFor('dead letter', async () => {
    const delivery = await deliveryOf(shop.api.pool, endpointId, orderId);
    return delivery?.status === 'dead' ? delivery : undefined;
  });
}

describe('webhook SSRF protection', () => {
  it('when an endpoint points at loopback, metadata or a stack service, then registration is a 422 naming the url', async () => {
    for (const url of [
      'http://127.0.0.1:9/x',
      'http://127.1/',
      'http://0x7f000001/',
      'http://2130706433/',
      'http://[::1]:3000/',
      'http://[::ffff:127.0.0.1]/',
      'http://localhost:3000/',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/',
      'http://redis-queue:6379/',
      'http://postgres:5432/',
    ]) {
      const response = await register(strictApi, url);
      expect(response.status, url).toBe(422);
      const problem = (await response.json()) as { errors: { path: string; message: string }[] };
      expect(problem.errors, url).toEqual([
        { path: 'body.url', message: expect.stringMatching(/^must reach a public address/) as unknown },
      ]);
    }
    // The allow-list (WEBHOOK_ALLOWED_PRIVATE_CIDRS=127.0.0.1/32 on the other api) admits the tests' receivers.
    const admitted = await register(shop.api, 'http://127.0.0.1:9/allowed');
    expect(admitted.status).toBe(201);
    endpointIds.push(((await admitted.json()) as { id: number }).id);
  });

  it('when a stored endpoint points at a refused loopback address, then the worker never connects and records blocked_address', async () => {
    expect(FAST_WORKER_ENV.WEBHOOK_ALLOWED_PRIVATE_CIDRS).toBe('127.0.0.1/32');
    const receiver = await startReceiver(() => 200, '127.0.0.2');
    try {
      const endpointId = await storeEndpoint(receiver.url);
      const dead = await deadDeliveryOfNewOrder(endpointId);
      expect(dead).toMatchObject({
        attempts: Number(FAST_WORKER_ENV.WEBHOOK_MAX_ATTEMPTS),
        lastError: 'gave up after attempt 3: blocked_address',
      });
      await sleep(300);
      expect(receiver.received).toHaveLength(0);
    } finally {
      await receiver.close();
    }
  });

  it('when the receiver refuses the connection, then the delivery stores connect_refused, not the raw error', async () => {
    // A port that was just free: nothing listens there now.
    const receiver = await startReceiver();
    const url = receiver.url;
    await receiver.close();
    const endpointId = await storeEndpoint(url);
    const dead = await deadDeliveryOfNewOrder(endpointId);
    expect(dead.lastError).toBe('gave up after attempt 3: connect_refused');
  });
});
