/**
 * What happens to an order after it is placed (placing it: orders.ts).
 *
 *   pending --(admin marks paid)--> paid
 *   pending --(its customer cancels)--> cancelled   (stock returned)
 *   pending --(hold_until passes, lapse job)--> expired   (stock returned)
 *
 * Each move is one conditional `UPDATE orders ... WHERE status = 'pending' RETURNING`: when a cancel, a
 * lapse and a payment race for one order, the row lock queues them and the later ones find the status
 * changed (READ COMMITTED re-checks the WHERE on the updated row), so exactly one wins and stock is
 * returned at most once. Running the lapse again finds nothing to do.
 *
 * Lock order, the same everywhere: order rows, then products in id order (as createOrder locks them),
 * so a release never deadlocks with an order being placed.
 */
import { withTransaction, type Pool, type PoolClient, type Queryable } from '../db.js';
import { getOrderOn, type Order } from './orders.js';

export type OrderTransitionResult =
  | { kind: 'done'; order: Order; productIds: number[] }
  /** No order with this id (for a customer: none of theirs). */
  | { kind: 'not-found' }
  /** The order is no longer pending: it was paid, cancelled or has expired meanwhile. */
  | { kind: 'not-pending'; order: Order };

/** Cancels the customer's own pending order and returns its stock. Someone else's order is not found. */
export async function cancelOrder(pool: Pool, userId: number, orderId: number): Promise<OrderTransitionResult> {
  return transition(pool, orderId, userId, 'cancelled');
}

/** An admin marks a pending order paid: it keeps its stock and no longer lapses. */
export async function markOrderPaid(db: Queryable, orderId: number): Promise<OrderTransitionResult> {
  return transition(db, orderId, undefined, 'paid');
}

async function transition(
  db: Queryable,
  orderId: number,
  userId: number | undefined,
  to: 'cancelled' | 'paid',
): Promise<OrderTransitionResult> {
  return withTransaction(db, async (client) => {
    const { rows } = await client.query<{ id: number; userId: number }>(
      `UPDATE orders SET status = $3
        WHERE id = $1 AND ($2::int IS NULL OR user_id = $2) AND status = 'pending'
        RETURNING id, user_id AS "userId"`,
      [orderId, userId ?? null, to],
    );
    const moved = rows[0];
    const productIds = moved && to === 'cancelled' ? await releaseStock(client, [moved.id]) : [];
    // Read back on the same connection: taking a second one while holding this could starve the pool.
    const owner = moved?.userId ?? userId ?? (await ownerOf(client, orderId));
    const order = owner === undefined ? undefined : await getOrderOn(client, owner, orderId);
    if (!order) return { kind: 'not-found' };
    return moved ? { kind: 'done', order, productIds } : { kind: 'not-pending', order };
  });
}

async function ownerOf(client: PoolClient, orderId: number): Promise<number | undefined> {
  const { rows } = await client.query<{ userId: number }>('SELECT user_id AS "userId" FROM orders WHERE id = $1', [
    orderId,
  ]);
  return rows[0]?.userId;
}

export interface LapseResult {
  /** Orders that became `expired` in this run. */
  expired: number;
  /** Products whose stock came back (for cache invalidation). */
  productIds: number[];
}

/**
 * Expires pending orders whose hold has passed and returns their stock, `batchSize` orders per
 * transaction until none is left. Idempotent: an order expires once; a second run (or a second
 * worker at the same time: SKIP LOCKED) finds nothing more to release.
 */
export async function expireLapsedOrders(pool: Pool, options: { batchSize: number }): Promise<LapseResult> {
  const result: LapseResult = { expired: 0, productIds: [] };
  const products = new Set<number>();
  for (;;) {
    const batch = await expireBatch(pool, options.batchSize);
    result.expired += batch.expired;
    for (const id of batch.productIds) products.add(id);
    if (batch.expired < options.batchSize) break;
  }
  result.productIds = [...products].sort((a, b) => a - b);
  return result;
}

async function expireBatch(pool: Pool, batchSize: number): Promise<LapseResult> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // orders_pending_hold_idx serves the inner query; rows a cancel or payment holds are skipped (they
    // are leaving `pending` anyway, or come back on the next run).
    const { rows } = await client.query<{ id: number }>(
      `UPDATE orders SET status = 'expired'
        WHERE id IN (SELECT id FROM orders
                      WHERE status = 'pending' AND hold_until <= now()
                      ORDER BY hold_until LIMIT $1
                      FOR UPDATE SKIP LOCKED)
          AND status = 'pending'
        RETURNING id`,
      [batchSize],
    );
    const orderIds = rows.map((row) => row.id);
    const productIds = orderIds.length > 0 ? await releaseStock(client, orderIds) : [];
    await client.query('COMMIT');
    return { expired: orderIds.length, productIds };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Gives the units of these orders (just moved out of `pending` in this transaction) back to their
 * products, locking the products in id order first. Returns the product ids.
 */
async function releaseStock(client: PoolClient, orderIds: readonly number[]): Promise<number[]> {
  const { rows } = await client.query<{ productId: number; units: number }>(
    `SELECT product_id AS "productId", sum(quantity)::int AS units
       FROM order_items WHERE order_id = ANY($1::bigint[])
      GROUP BY product_id ORDER BY product_id`,
    [orderIds],
  );
  const productIds = rows.map((row) => row.productId);
  await client.query('SELECT 1 FROM products WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE', [productIds]);
  await client.query(
    `UPDATE products p SET stock = p.stock + r.units, updated_at = now()
       FROM unnest($1::int[], $2::int[]) AS r(product_id, units)
      WHERE p.id = r.product_id`,
    [productIds, rows.map((row) => row.units)],
  );
  return productIds;
}

/** The name of the worker's job (on the `system` queue) that runs expireLapsedOrders. */
export const ORDER_LAPSE_JOB = 'orders.lapse';
