/**
 * Orders: a customer places an order (stock checked and decremented in one transaction, the
 * `order.created` event written to the outbox in that same transaction), lists and reads their own.
 * A new order is `pending` and holds its stock for `holdSeconds`; lifecycle.ts moves it on.
 *
 * Idempotency (the Idempotency-Key header, https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/):
 * the order row is inserted first with (user_id, idempotency_key) UNIQUE and ON CONFLICT DO NOTHING.
 * A second request with the same key waits on that unique entry until the first commits or rolls
 * back, then either finds the order (same body hash: replay it; another body: refuse) or, if the
 * first rolled back, goes ahead itself. Only placed orders are remembered: a request refused for
 * stock or unknown products leaves nothing behind, so retrying it with the same key re-evaluates.
 */
import type { Pool, PoolClient } from '../db.js';
import { recordEvent } from '../outbox/record.js';
import { cursorTimestampSql } from '../catalog/cursor.js';

export interface OrderItem {
  productId: number;
  quantity: number;
  unitPriceCents: number;
}

/** See core/src/orders/lifecycle.ts for how an order moves between these. */
export type OrderStatus = 'pending' | 'paid' | 'shipped' | 'cancelled' | 'expired';

export interface Order {
  id: number;
  status: OrderStatus;
  totalCents: number;
  createdAt: Date;
  /** Until when the order holds its stock (pending orders; kept as a record afterwards). Null for older orders. */
  holdUntil: Date | null;
  items: OrderItem[];
}

export interface OrderLine {
  productId: number;
  quantity: number;
}

export interface ShortItem {
  productId: number;
  requested: number;
  available: number;
}

export type CreateOrderResult =
  | { kind: 'created'; order: Order }
  | { kind: 'replayed'; order: Order }
  | { kind: 'key-reused' }
  | { kind: 'unavailable-products'; productIds: number[] }
  | { kind: 'held-units-cap'; cap: number; held: number; requested: number }
  | { kind: 'insufficient-stock'; items: ShortItem[] };

export interface CreateOrderInput {
  userId: number;
  idempotencyKey: string;
  /** A hash of the validated request body: the same key with another body is refused. */
  requestHash: Buffer;
  /** Distinct product ids (the api rejects duplicates). */
  lines: readonly OrderLine[];
  /** How long the order holds its stock while pending (ORDER_HOLD_SECONDS). */
  holdSeconds: number;
  /** Most units one customer may hold in pending orders at once, this order included (CUSTOMER_MAX_HELD_UNITS). */
  maxHeldUnits: number;
}

export async function createOrder(pool: Pool, input: CreateOrderInput): Promise<CreateOrderResult> {
  const client = await pool.connect();
  let committed = false;
  try {
    await client.query('BEGIN');
    const inserted = await client.query<{ id: number; status: OrderStatus; createdAt: Date; holdUntil: Date }>(
      `INSERT INTO orders (user_id, total_cents, idempotency_key, request_hash, hold_until)
       VALUES ($1, 0, $2, $3, now() + make_interval(secs => $4))
       ON CONFLICT (user_id, idempotency_key) DO NOTHING
       RETURNING id, status, created_at AS "createdAt", hold_until AS "holdUntil"`,
      [input.userId, input.idempotencyKey, input.requestHash, input.holdSeconds],
    );
    const order = inserted.rows[0];
    if (!order) {
      await client.query('ROLLBACK');
      return await replay(client, input);
    }
    const overCap = await heldUnitsOverCap(client, input);
    if (overCap) {
      await client.query('ROLLBACK');
      return overCap;
    }

    // Lock the products in id order: two orders over the same products queue up instead of deadlocking.
    const productIds = input.lines.map((line) => line.productId);
    const { rows: products } = await client.query<{ id: number; priceCents: number; stock: number; active: boolean }>(
      `SELECT id, price_cents AS "priceCents", stock, active FROM products WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE`,
      [productIds],
    );
    const byId = new Map(products.map((product) => [product.id, product]));
    const unavailable = productIds.filter((id) => !byId.get(id)?.active);
    if (unavailable.length > 0) {
      await client.query('ROLLBACK');
      return { kind: 'unavailable-products', productIds: unavailable };
    }
    const short: ShortItem[] = [];
    for (const line of input.lines) {
      const available = byId.get(line.productId)?.stock ?? 0;
      if (available < line.quantity) short.push({ productId: line.productId, requested: line.quantity, available });
    }
    if (short.length > 0) {
      await client.query('ROLLBACK');
      return { kind: 'insufficient-stock', items: short };
    }

    // Items in product id order, as every read returns them: a replay answers byte for byte the same.
    const items: OrderItem[] = [...input.lines]
      .sort((a, b) => a.productId - b.productId)
      .map((line) => ({
        productId: line.productId,
        quantity: line.quantity,
        unitPriceCents: byId.get(line.productId)?.priceCents ?? 0,
      }));
    const totalCents = items.reduce((sum, item) => sum + item.quantity * item.unitPriceCents, 0);
    const columns = {
      productIds: items.map((item) => item.productId),
      quantities: items.map((item) => item.quantity),
      prices: items.map((item) => item.unitPriceCents),
    };
    // The CHECK (stock >= 0) is the last line of defence; the locked rows were checked above.
    await client.query(
      `UPDATE products p SET stock = p.stock - i.quantity, updated_at = now()
         FROM unnest($1::int[], $2::int[]) AS i(product_id, quantity)
        WHERE p.id = i.product_id`,
      [columns.productIds, columns.quantities],
    );
    await client.query(
      `INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
       SELECT $1, * FROM unnest($2::int[], $3::int[], $4::int[])`,
      [order.id, columns.productIds, columns.quantities, columns.prices],
    );
    await client.query('UPDATE orders SET total_cents = $2 WHERE id = $1', [order.id, totalCents]);
    await recordEvent(client, 'order.created', { orderId: order.id, userId: input.userId, totalCents, items });
    await client.query('COMMIT');
    committed = true;
    return {
      kind: 'created',
      order: { ...order, totalCents, items },
    };
  } catch (error) {
    if (!committed) await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * The per-customer cap, checked under a lock on the customer's row (FOR NO KEY UPDATE: it does not
 * conflict with the key-share lock the order's foreign key took), so two orders of one customer placed
 * at once are counted one after the other and cannot both slip under the cap.
 */
async function heldUnitsOverCap(
  client: PoolClient,
  input: CreateOrderInput,
): Promise<Extract<CreateOrderResult, { kind: 'held-units-cap' }> | undefined> {
  await client.query('SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE', [input.userId]);
  const { rows } = await client.query<{ held: number }>(
    `SELECT coalesce(sum(i.quantity), 0)::int AS held
       FROM orders o JOIN order_items i ON i.order_id = o.id
      WHERE o.user_id = $1 AND o.status = 'pending'`,
    [input.userId],
  );
  const held = rows[0]?.held ?? 0;
  const requested = input.lines.reduce((sum, line) => sum + line.quantity, 0);
  if (held + requested <= input.maxHeldUnits) return undefined;
  return { kind: 'held-units-cap', cap: input.maxHeldUnits, held, requested };
}

/** The order an earlier request with the same key placed: replayed when the body matches. */
async function replay(client: PoolClient, input: CreateOrderInput): Promise<CreateOrderResult> {
  const { rows } = await client.query<{ id: number; requestHash: Buffer | null }>(
    `SELECT id, request_hash AS "requestHash" FROM orders WHERE user_id = $1 AND idempotency_key = $2`,
    [input.userId, input.idempotencyKey],
  );
  const existing = rows[0];
  // Gone between the conflict and this read: it can only have been deleted; treat as a reuse.
  if (!existing?.requestHash || !existing.requestHash.equals(input.requestHash)) return { kind: 'key-reused' };
  const order = await getOrderOn(client, input.userId, existing.id);
  return order ? { kind: 'replayed', order } : { kind: 'key-reused' };
}

const ORDER_COLUMNS = `id, status, total_cents AS "totalCents", created_at AS "createdAt", hold_until AS "holdUntil"`;

export interface OrderPage {
  items: Order[];
  /** Keyset cursor values of the last order when more follow: [created_at with microseconds, id]. */
  next: [string, number] | null;
}

/** The list query (exported for the EXPLAIN tests, which check the exact SQL the api runs). */
export function orderListQuery(
  userId: number,
  before: readonly [string, number] | undefined,
  limit: number,
): { text: string; values: unknown[] } {
  const values: unknown[] = [userId, limit + 1];
  let keyset = '';
  if (before) {
    values.push(before[0], before[1]);
    keyset = 'AND (created_at, id) < ($3::timestamptz, $4::bigint)';
  }
  return {
    text: `SELECT ${ORDER_COLUMNS}, ${cursorTimestampSql('created_at')} AS "cursorAt"
             FROM orders
            WHERE user_id = $1 ${keyset}
            ORDER BY created_at DESC, id DESC
            LIMIT $2`,
    values,
  };
}

/**
 * A customer's orders, newest first, keyset-paginated on (created_at, id) with
 * orders_user_created_idx; the items of the page in one more query.
 */
export async function listOrders(
  pool: Pool,
  userId: number,
  options: { before?: readonly [string, number] | undefined; limit: number },
): Promise<OrderPage> {
  const { text, values } = orderListQuery(userId, options.before, options.limit);
  const { rows } = await pool.query<Omit<Order, 'items'> & { cursorAt: string }>(text, values);
  const more = rows.length > options.limit;
  const page = more ? rows.slice(0, options.limit) : rows;
  const itemsByOrder = await loadItems(
    pool,
    page.map((order) => order.id),
  );
  const last = page[page.length - 1];
  return {
    items: page.map(({ cursorAt: _cursorAt, ...order }) => ({ ...order, items: itemsByOrder.get(order.id) ?? [] })),
    next: more && last ? [last.cursorAt, last.id] : null,
  };
}

/** The user's order, or undefined when it does not exist or belongs to someone else (both are a 404). */
export async function getOrder(pool: Pool, userId: number, orderId: number): Promise<Order | undefined> {
  return getOrderOn(pool, userId, orderId);
}

export async function getOrderOn(db: Pool | PoolClient, userId: number, orderId: number): Promise<Order | undefined> {
  const { rows } = await db.query<Omit<Order, 'items'>>(
    `SELECT ${ORDER_COLUMNS} FROM orders WHERE id = $1 AND user_id = $2`,
    [orderId, userId],
  );
  const order = rows[0];
  if (!order) return undefined;
  const items = await loadItems(db, [order.id]);
  return { ...order, items: items.get(order.id) ?? [] };
}

async function loadItems(db: Pool | PoolClient, orderIds: number[]): Promise<Map<number, OrderItem[]>> {
  const byOrder = new Map<number, OrderItem[]>();
  if (orderIds.length === 0) return byOrder;
  const { rows } = await db.query<OrderItem & { orderId: number }>(
    `SELECT order_id AS "orderId", product_id AS "productId", quantity, unit_price_cents AS "unitPriceCents"
       FROM order_items WHERE order_id = ANY($1::bigint[]) ORDER BY order_id, product_id`,
    [orderIds],
  );
  for (const { orderId, ...item } of rows) {
    const list = byOrder.get(orderId);
    if (list) list.push(item);
    else byOrder.set(orderId, [item]);
  }
  return byOrder;
}
