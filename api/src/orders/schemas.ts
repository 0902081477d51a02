import { z } from 'zod';
import { cursorQuery, idString, limitQuery, named, timestamp } from '../http/schemas.js';

export const orderSchema = named(
  'Order',
  z.strictObject({
    id: z.number().int(),
    status: z
      .enum(['pending', 'paid', 'shipped', 'cancelled', 'expired'])
      .describe(
        '`pending` holds its stock until `holdUntil`; then `paid` (an admin marked it), `cancelled` (by the customer) ' +
          'or `expired` (unpaid when the hold ended); cancelled and expired orders gave their stock back.',
      ),
    totalCents: z.number().int(),
    createdAt: timestamp,
    holdUntil: timestamp
      .nullable()
      .describe('Until when a pending order holds its stock; null for orders placed before holds existed.'),
    items: z.array(
      z.strictObject({ productId: z.number().int(), quantity: z.number().int(), unitPriceCents: z.number().int() }),
    ),
  }),
);
export const orderListSchema = named(
  'OrderList',
  z.strictObject({
    data: z.array(orderSchema),
    nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
  }),
);

export const orderCreateSchema = named(
  'OrderCreate',
  z.strictObject({
    items: z
      .array(
        z.strictObject({
          productId: z.number().int().min(1).max(2_147_483_647),
          quantity: z.number().int().min(1).max(1_000),
        }),
      )
      .min(1)
      .max(50)
      .superRefine((items, ctx) => {
        const seen = new Set<number>();
        items.forEach((item, index) => {
          if (seen.has(item.productId)) {
            ctx.addIssue({ code: 'custom', path: [index, 'productId'], message: 'appears twice; add up the quantity' });
          }
          seen.add(item.productId);
        });
      }),
  }),
);

/** https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/ : a client-chosen unique key, e.g. a UUID. */
export const idempotencyHeaders = z.strictObject({
  'idempotency-key': z
    .string({ error: 'is required: a unique key per order, e.g. a UUID' })
    .min(8, 'must be 8 to 200 characters')
    .max(200, 'must be 8 to 200 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be visible ASCII characters'),
});

export const orderListQuery = z.strictObject({
  cursor: cursorQuery.describe('Opaque cursor from the previous page (`nextCursor`).'),
  limit: limitQuery.describe('Page size, 1 to 100 (default 20).'),
});

export const orderIdParams = z.strictObject({ id: idString(Number.MAX_SAFE_INTEGER) });

export const shortItemsSchema = named(
  'InsufficientStock',
  z
    .object({
      type: z.string(),
      title: z.string(),
      status: z.literal(409),
      detail: z.string().optional(),
      instance: z.string(),
      requestId: z.string(),
      items: z.array(
        z.strictObject({ productId: z.number().int(), requested: z.number().int(), available: z.number().int() }),
      ),
    })
    .catchall(z.unknown()),
  'Problem details listing every item that is short: nothing was ordered.',
);
