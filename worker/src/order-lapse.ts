/**
 * The order lapse (core/src/orders/lifecycle.ts, expireLapsedOrders) runs as a BullMQ job scheduler on
 * the `system` queue: every worker upserts the same scheduler id, so there is one schedule and one
 * run per interval however many workers there are (https://docs.bullmq.io/guide/job-schedulers).
 * A run that overlaps another, or repeats, is harmless: an order expires once.
 */
import type { Queue } from 'bullmq';
import { ORDER_LAPSE_JOB, type Logger } from '@stack/core';

const SCHEDULER_ID = 'orders-lapse';
const RETRY_MS = 5_000;

/**
 * Upserts the schedule now, or keeps retrying in the background while the queue Redis is unreachable
 * (the worker must start without it, as its other jobs wait for it). Returns a stop function.
 */
export function scheduleOrderLapse(queue: Queue, everyMs: number, logger: Logger): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const attempt = async (): Promise<void> => {
    try {
      await queue.upsertJobScheduler(SCHEDULER_ID, { every: everyMs }, { name: ORDER_LAPSE_JOB, data: {} });
      logger.info({ everyMs }, 'order lapse scheduled');
    } catch (error) {
      logger.warn({ err: error, retryMs: RETRY_MS }, 'cannot schedule the order lapse yet; retrying');
      if (!stopped) timer = setTimeout(() => void attempt(), RETRY_MS);
    }
  };
  void attempt();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
