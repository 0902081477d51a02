/**
 * A customer's orders. Placing one is idempotent per Idempotency-Key (see core/src/orders/orders.ts);
 * reading is limited to the caller's own orders, and someone else's order is a 404, never a 403, so
 * order ids cannot be probed. Responses are personal: `private, no-store`.
 */
import { createHash } from 'node:crypto';
import {
  catalogVersions,
  createOrder,
  decodeCursor,
  encodeCursor,
  getOrder,
  listOrders,
  type Pool,
  type ResponseCache,
} from '@stack/core';
import { AppError } from '../http/problem.js';
import { defineRoute, type ApiModule } from '../http/route.js';
import { fieldErrors } from '../http/validate.js';
import {
  idempotencyHeaders,
  orderCreateSchema,
  orderIdParams,
  orderListQuery,
  orderListSchema,
  orderSchema,
  shortItemsSchema,
} from '../schemas/orders.js';
import { PRIVATE_CACHE_CONTROL } from '../http/cache-control.js';

export interface OrdersDeps {
  pool: Pool;
  cache: ResponseCache;
}

export function ordersModule(deps: OrdersDeps): ApiModule {
  const { pool, cache } = deps;

  const place = defineRoute({
    method: 'post',
    path: '/orders',
    operationId: 'createOrder',
    summary: 'Place an order',
    description:
      'Checks and decrements stock for every item in one transaction. The Idempotency-Key header is required: ' +
      'repeating a request with the same key and the same body returns the first response (201, header ' +
      '`Idempotent-Replayed: true`) and places nothing; the same key with another body is a 422. Only placed ' +
      'orders are remembered, so a request refused for stock may be retried with its key.',
    tag: 'Orders',
    access: ['customer'],
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
    },
    handler: async ({ headers, body }, req, res) => {
      const requestHash = createHash('sha256').update(JSON.stringify(body)).digest();
      const result = await createOrder(pool, {
        userId: (req.user as NonNullable<typeof req.user>).id,
        idempotencyKey: headers['idempotency-key'],
        requestHash,
        lines: body.items,
      });
      switch (result.kind) {
        case 'created':
        case 'replayed': {
          if (result.kind === 'created') {
            // Stock shows in product details: they must not be served from the cache after this response.
            await cache.invalidate(
              catalogVersions.stock(
                cache,
                body.items.map((item) => item.productId),
              ),
            );
          } else {
            res.setHeader('Idempotent-Replayed', 'true');
          }
          res
            .status(201)
            .location(`/api/v1/orders/${result.order.id}`)
            .set('Cache-Control', PRIVATE_CACHE_CONTROL)
            .json(result.order);
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
        case 'insufficient-stock':
          throw new AppError('insufficientStock', 'Some items are short; nothing was ordered.', {
            items: result.items,
          });
      }
    },
  });

  const list = defineRoute({
    method: 'get',
    path: '/orders',
    operationId: 'listOrders',
    summary: 'List my orders',
    description: "The caller's orders, newest first, keyset-paginated.",
    tag: 'Orders',
    access: ['customer'],
    query: orderListQuery,
    responses: { 200: { description: 'One page of orders.', schema: orderListSchema } },
    handler: async ({ query }, req, res) => {
      let before: readonly [string, number] | undefined;
      if (query.cursor !== undefined) {
        const decoded = decodeCursor(query.cursor, ['timestamp', 'int']);
        if (!decoded) throw fieldErrors([{ path: 'query.cursor', message: 'is not a cursor this api returned' }]);
        before = decoded;
      }
      const page = await listOrders(pool, (req.user as NonNullable<typeof req.user>).id, {
        before,
        limit: query.limit,
      });
      res
        .set('Cache-Control', PRIVATE_CACHE_CONTROL)
        .json({ data: page.items, nextCursor: page.next ? encodeCursor(page.next) : null });
    },
  });

  const read = defineRoute({
    method: 'get',
    path: '/orders/:id',
    operationId: 'getOrder',
    summary: 'Get one of my orders',
    tag: 'Orders',
    access: ['customer'],
    params: orderIdParams,
    responses: {
      200: { description: 'The order.', schema: orderSchema },
      404: { description: "No order with this id belongs to the caller (also for other customers' orders)." },
    },
    handler: async ({ params }, req, res) => {
      const order = await getOrder(pool, (req.user as NonNullable<typeof req.user>).id, params.id);
      if (!order) throw new AppError('notFound', `You have no order ${params.id}.`);
      res.set('Cache-Control', PRIVATE_CACHE_CONTROL).json(order);
    },
  });

  return { prefix: '/api/v1', routes: [place, list, read] };
}
