import type { Job } from 'bullmq';
import { eventJobSchema, fanOutEvent, QUEUES, type JobQueues, type Pool } from '@stack/core';
import { parsePayload } from './job-helpers.js';

/**
 * `events` queue: one domain event from the outbox becomes one delivery per subscribed webhook
 * endpoint, each a job on the `webhooks` queue. Safe to run twice: deliveries are unique per
 * (endpoint, event) and the delivery job id is the delivery id.
 */
export function eventsProcessor(deps: { pool: Pool; queues: JobQueues }) {
  return async (job: Job): Promise<{ deliveries: number }> => {
    const event = parsePayload(eventJobSchema, job);
    const deliveryIds = await fanOutEvent(deps.pool, event);
    if (deliveryIds.length > 0) {
      await deps.queues[QUEUES.webhooks].addBulk(
        deliveryIds.map((deliveryId) => ({
          name: 'deliver',
          data: { deliveryId },
          opts: { jobId: `delivery-${deliveryId}` },
        })),
      );
    }
    return { deliveries: deliveryIds.length };
  };
}
