/**
 * A customer's orders. Placing one is idempotent per Idempotency-Key (see core/src/orders/orders.ts);
 * reading is limited to the caller's own orders, and someone else's order is a 404, never a 403, so
 * order ids cannot be probed. Responses are personal: `private, no-store`.
 */
import { createHash } from 'node:crypto';
import {
  cancelOrder,
  createOrder,
  decodeCursor,
  encodeCursor,
  getOrder,
  listOrders,
  type ApiConfig,
  type CatalogInvalidator,
  type OrderLine,
  type Pool,
} from '@stack/core';
import { callerId } from '../http/auth.js';
import { AppError, foundOr404 } from '../http/problem.js';
import { routeGroup, type ApiModule, type ApiRoute } from '../http/route.js';
import { fieldErrors, invalidCursor } from '../http/validate.js';
import {
  idempotencyHeaders,
  orderCreateSchema,
  orderIdParams,
  orderListQuery,
  orderListSchema,
  orderSchema,
  shortItemsSchema,
} from './schemas.js';
import { sendTransition, transitionResponses } from './transition.js';

const route = routeGroup({ tag: 'Orders', access: ['customer'] });

/** The caps that keep one customer from taking the shelves out of sale (settings; see .env.example). */
export interface OrderLimits {
  holdSeconds: number;
  maxLines: number;
  maxUnits: number;
  maxHeldUnits: number;
}

export const orderLimitsOf = (config: ApiConfig): OrderLimits => ({
  holdSeconds: config.ORDER_HOLD_SECONDS,
  maxLines: config.ORDER_MAX_LINES,
  maxUnits: config.ORDER_MAX_UNITS,
  maxHeldUnits: config.CUSTOMER_MAX_HELD_UNITS,
});

export interface OrdersDeps {
  pool: Pool;
  catalog: CatalogInvalidator;
  limits: OrderLimits;
}

/** 422 naming the per-order cap an order exceeds (the per-customer cap needs the database: createOrder). */
function checkOrderCaps(lines: readonly OrderLine[], limits: OrderLimits): void {
  if (lines.length > limits.maxLines) {
    throw new AppError(
      'orderLimit',
      `An order may have at most ${limits.maxLines} items; this one has ${lines.length}.`,
      {
        cap: 'itemsPerOrder',
        limit: limits.maxLines,
        requested: lines.length,
      },
    );
  }
  const units = lines.reduce((sum, line) => sum + line.quantity, 0);
  if (units > limits.maxUnits) {
    throw new AppError(
      'orderLimit',
      `An order may have at most ${limits.maxUnits} units in all; this one has ${units}.`,
      {
        cap: 'unitsPerOrder',
        limit: limits.maxUnits,
        requested: units,
      },
    );
  }
}

export function ordersModule(deps: OrdersDeps): ApiModule {
  const { pool, catalog } = deps;

  const place = placeOrderRoute(deps);

  const list = route({
    method: 'get',
    path: '/orders',
    operationId: 'listOrders',
    rulesBeyondSchema: '`cursor` must be one this list handed out.',
    summary: 'List my orders',
    description: "The caller's orders, newest first, keyset-paginated.",
    query: orderListQuery,
    responses: { 200: { description: 'One page of orders.', schema: orderListSchema } },
    handler: async ({ query }, req, res) => {
      let before: readonly [string, number] | undefined;
      if (query.cursor !== undefined) {
        const decoded = decodeCursor(query.cursor, ['timestamp', 'int']);
        if (!decoded) throw invalidCursor();
        before = decoded;
      }
      const page = await listOrders(pool, callerId(req), {
        before,
        limit: query.limit,
      });
      res.json({ data: page.items, nextCursor: page.next ? encodeCursor(page.next) : null });
    },
  });

  const read = route({
    method: 'get',
    path: '/orders/:id',
    operationId: 'getOrder',
    summary: 'Get one of my orders',
    params: orderIdParams,
    responses: {
      200: { description: 'The order.', schema: orderSchema },
      404: { description: "No order with this id belongs to the caller (also for other customers' orders)." },
    },
    handler: async ({ params }, req, res) => {
      res.json(foundOr404(await getOrder(pool, callerId(req), params.id), `You have no order ${params.id}.`));
    },
  });

  const cancel = route({
    method: 'post',
    path: '/orders/:id/cancel',
    operationId: 'cancelOrder',
    summary: 'Cancel one of my pending orders',
    description:
      'A pending order becomes `cancelled` and its stock returns (once, even when the hold lapses at the same ' +
      'moment). Repeating the cancel of a cancelled order answers 200 with the order again.',
    params: orderIdParams,
    responses: transitionResponses({
      done: 'The order, now cancelled.',
      notFound: "No order with this id belongs to the caller (also for other customers' orders).",
      notPending: 'The order is paid or has expired: it can no longer be cancelled.',
    }),
    handler: async ({ params }, req, res) => {
      const result = await cancelOrder(pool, callerId(req), params.id);
      if (result.kind === 'done') await catalog.stockChanged(result.productIds);
      sendTransition(res, result, {
        orderId: params.id,
        target: 'cancelled',
        verb: 'cancelled',
        notFound: `You have no order ${params.id}.`,
      });
    },
  });

  return { prefix: '/api/v1', routes: [place, list, read, cancel] };
}

/** POST /orders: the caps checked here and in createOrder, then the order placed (or replayed). */
function placeOrderRoute({ pool, catalog, limits }: OrdersDeps): ApiRoute {
  return route({
    method: 'post',
    path: '/orders',
    operationId: 'createOrder',
    rulesBeyondSchema:
      'every product must exist, be active and appear once; the caps per order and per customer (type ' +
      '`order-limit`); an Idempotency-Key already used with another body.',
    summary: 'Place an order',
    description:
      'Checks and decrements stock for every item in one transaction. The order is `pending` and holds its stock ' +
      'until `holdUntil`; unpaid by then, it expires and the stock returns. Caps (422 `order-limit`, naming the ' +
      'cap): items and units per order, and units one customer holds in pending orders at once. ' +
      'The Idempotency-Key header is required: ' +
      'repeating a request with the same key and the same body returns the first response (201, header ' +
      '`Idempotent-Replayed: true`) and places nothing; the same key with another body is a 422. Only placed ' +
      'orders are remembered, so a request refused for stock may be retried with its key.',
    headers: idempotencyHeaders,
    body: orderCreateSchema,
    bodyLimit: '16kb',
    responses: {
      201: {
        description:
          'The order was placed (or, with `Idempotent-Replayed: true`, had been placed by an earlier request with this key).',
        schema: orderSchema,
        headers: {
          Location: { description: 'URL of the order.', schema: { type: 'string' } },
          'Idempotent-Replayed': { description: '`true` when this is a replay.', schema: { type: 'string' } },
        },
      },
      409: { description: 'Not enough stock for one or more items: nothing was ordered.', schema: shortItemsSchema },
      422: {
        description:
          'A field failed validation (`errors` lists each path), the Idempotency-Key was used with another body, ' +
          'or a cap was exceeded (type `order-limit`; `cap`, `limit` and `requested` say which).',
      },
    },
    handler: async ({ headers, body }, req, res) => {
      checkOrderCaps(body.items, limits);
      const requestHash = createHash('sha256').update(JSON.stringify(body)).digest();
      const result = await createOrder(pool, {
        userId: callerId(req),
        idempotencyKey: headers['idempotency-key'],
        requestHash,
        lines: body.items,
        holdSeconds: limits.holdSeconds,
        maxHeldUnits: limits.maxHeldUnits,
      });
      switch (result.kind) {
        case 'created':
        case 'replayed': {
          if (result.kind === 'created') {
            // Stock shows in product details: they must not be served from the cache after this response.
            await catalog.stockChanged(body.items.map((item) => item.productId));
          } else {
            res.setHeader('Idempotent-Replayed', 'true');
          }
          res.status(201).location(`/api/v1/orders/${result.order.id}`).json(result.order);
          return;
        }
        case 'key-reused':
          throw new AppError(
            'idempotencyKeyReused',
            'This Idempotency-Key was used for a request with another body. Use a new key for a new order.',
          );
        case 'unavailable-products':
          throw fieldErrors(
            body.items.flatMap((item, index) =>
              result.productIds.includes(item.productId)
                ? [{ path: `body.items.${index}.productId`, message: 'is not an active product' }]
                : [],
            ),
          );
        case 'held-units-cap':
          throw new AppError(
            'orderLimit',
            `A customer may hold at most ${result.cap} units in pending orders at once; you hold ${result.held} ` +
              `and this order adds ${result.requested}. Pay for or cancel a pending order first.`,
            { cap: 'heldUnitsPerCustomer', limit: result.cap, requested: result.requested, held: result.held },
          );
        case 'insufficient-stock':
          throw new AppError('insufficientStock', 'Some items are short; nothing was ordered.', {
            items: result.items,
          });
      }
    },
  });
}
