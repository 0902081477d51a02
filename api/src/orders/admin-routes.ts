/**
 * Admin side of the order lifecycle (core/src/orders/lifecycle.ts): marking an order paid, after which
 * it keeps its stock and no longer lapses. Payment itself happens elsewhere; this records it.
 */
import { markOrderPaid, type Pool } from '@stack/core';
import { AppError } from '../http/problem.js';
import { routeGroup, type ApiModule } from '../http/route.js';
import { orderIdParams, orderSchema } from './schemas.js';

const route = routeGroup({ tag: 'Admin: orders', access: ['admin'] });

export function adminOrdersModule(deps: { pool: Pool }): ApiModule {
  const pay = route({
    method: 'post',
    path: '/admin/orders/:id/pay',
    operationId: 'markOrderPaid',
    summary: 'Mark a pending order paid',
    description:
      'The order becomes `paid`: it keeps its stock and no longer lapses. Marking a paid order paid again answers ' +
      '200 with the order; a cancelled or expired order is a 409 (its stock has gone back on sale).',
    params: orderIdParams,
    responses: {
      200: { description: 'The order, now paid.', schema: orderSchema },
      404: { description: 'No order with this id.' },
      409: { description: 'The order was cancelled or has expired.' },
    },
    handler: async ({ params }, _req, res) => {
      const result = await markOrderPaid(deps.pool, params.id);
      if (result.kind === 'not-found') throw new AppError('notFound', `No order with id ${params.id}.`);
      if (result.kind === 'not-pending' && result.order.status !== 'paid') {
        throw new AppError(
          'orderNotPending',
          `Order ${params.id} is ${result.order.status}; only a pending order can be marked paid.`,
          { orderStatus: result.order.status },
        );
      }
      res.json(result.order);
    },
  });
  return { prefix: '/api/v1', routes: [pay] };
}
