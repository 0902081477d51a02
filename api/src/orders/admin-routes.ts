/**
 * Admin side of the order lifecycle (core/src/orders/lifecycle.ts): marking an order paid, after which
 * it keeps its stock and no longer lapses. Payment itself happens elsewhere; this records it.
 */
import { markOrderPaid, type Pool } from '@stack/core';
import { auditedFor } from '../audit/actor.js';
import { routeGroup, type ApiModule } from '../http/route.js';
import { orderIdParams } from './schemas.js';
import { sendTransition, transitionResponses } from './transition.js';

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
    responses: transitionResponses({
      done: 'The order, now paid.',
      notFound: 'No order with this id.',
      notPending: 'The order was cancelled or has expired.',
    }),
    handler: async ({ params }, req, res) => {
      // Only the request that moved the order leaves a row; repeating it answers the order and changes nothing.
      const result = await auditedFor(deps.pool, req)(
        (tx) => markOrderPaid(tx, params.id),
        (moved) =>
          moved.kind === 'done' ? { action: 'order.mark_paid', targetType: 'order', targetId: params.id } : undefined,
      );
      sendTransition(res, result, {
        orderId: params.id,
        target: 'paid',
        verb: 'marked paid',
        notFound: `No order with id ${params.id}.`,
      });
    },
  });
  return { prefix: '/api/v1', routes: [pay] };
}
