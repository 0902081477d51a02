/**
 * A bounded stream of reads and orders through nginx while an operator acts on the stack (scale, roll, kill), for
 * the compose and the swarm tests: every answer other than 200/201 and every network error is a failure, except
 * what the API tells clients to do with an order answered 502 (nginx does not resend a POST that reached a
 * replica; here a replica closing an idle keep-alive connection at shutdown just as nginx sent the order on it):
 * repeat it once with its Idempotency-Key.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export interface TrafficTarget {
  nginxUrl: string;
  /** Sent with every request: the customer's bearer token and the load-test key (the stream is not rate limited). */
  headers: Record<string, string>;
  /** The product each order takes one unit of (give it enough stock). */
  productId: number;
}

export interface Traffic {
  failures: string[];
  reads: number;
  /** Idempotency keys of the orders answered 201. */
  orderKeys: string[];
  /** Orders answered 502 and placed by repeating them with the same key. */
  repeated: number;
}

/**
 * `readers` clients read the customer's orders (GET /api/v1/orders), `orderers` place orders, each with a key of its
 * own, for a second, then during `act`, then two seconds more.
 */
export async function trafficWhile(
  act: () => Promise<unknown>,
  clients: { readers: number; orderers: number },
  target: TrafficTarget,
): Promise<Traffic> {
  const traffic: Traffic = { failures: [], reads: 0, orderKeys: [], repeated: 0 };
  let running = true;
  const client = async (kind: 'read' | 'order') => {
    while (running) {
      const key = `traffic-order-${randomBytes(8).toString('hex')}`;
      const init: RequestInit =
        kind === 'read'
          ? { headers: target.headers }
          : {
              method: 'POST',
              headers: { ...target.headers, 'content-type': 'application/json', 'idempotency-key': key },
              body: JSON.stringify({ items: [{ productId: target.productId, quantity: 1 }] }),
            };
      const send = () => fetch(`${target.nginxUrl}/api/v1/orders`, init).catch((error: Error) => error);
      let response = await send();
      if (kind === 'order' && !(response instanceof Error) && response.status === 502) {
        traffic.repeated += 1;
        response = await send();
      }
      const expected = kind === 'read' ? 200 : 201;
      if (response instanceof Error || response.status !== expected) {
        traffic.failures.push(
          `${init.method ?? 'GET'} ${response instanceof Error ? response.message : response.status}`,
        );
      } else if (kind === 'read') traffic.reads += 1;
      else traffic.orderKeys.push(key);
      if (!(response instanceof Error)) await response.arrayBuffer();
      await sleep(kind === 'read' ? 5 : 20);
    }
  };
  const everyone = [
    ...Array.from({ length: clients.readers }, () => client('read')),
    ...Array.from({ length: clients.orderers }, () => client('order')),
  ];
  try {
    await sleep(1_000);
    await act();
    await sleep(2_000);
  } finally {
    running = false;
    await Promise.all(everyone);
  }
  return traffic;
}
