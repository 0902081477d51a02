/**
 * What the lifecycle routes (cancel, mark paid) share: their documented answers and how a transition's
 * result becomes one. Repeating a move that already happened answers the order again (a retried request
 * is not an error); an order that went another way is a 409.
 */
import type { Response } from 'express';
import type { OrderTransitionResult } from '@stack/core';
import { AppError } from '../http/problem.js';
import type { ResponseSpec } from '../http/route.js';
import { orderSchema } from './schemas.js';

export function transitionResponses(texts: {
  done: string;
  notFound: string;
  notPending: string;
}): Record<number, ResponseSpec> {
  return {
    200: { description: texts.done, schema: orderSchema },
    404: { description: texts.notFound },
    409: { description: texts.notPending },
  };
}

/** 404, 409 `order-not-pending`, or the order as it is now (moved to `target` by this request or an earlier one). */
export function sendTransition(
  res: Response,
  result: OrderTransitionResult,
  move: { orderId: number; target: 'cancelled' | 'paid'; verb: string; notFound: string },
): void {
  if (result.kind === 'not-found') throw new AppError('notFound', move.notFound);
  if (result.kind === 'not-pending' && result.order.status !== move.target) {
    throw new AppError(
      'orderNotPending',
      `Order ${move.orderId} is ${result.order.status}; only a pending order can be ${move.verb}.`,
      { orderStatus: result.order.status },
    );
  }
  res.json(result.order);
}
