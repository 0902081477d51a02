import type { BlockList } from 'node:net';
import type { Job } from 'bullmq';
import {
  attemptDelivery,
  markDeliveryDead,
  webhookJobSchema,
  type DeliverOutcome,
  type Pool,
  type WebhookSecretKeyring,
} from '@stack/core';
import { errorMessage, isFinalFailure, parsePayload } from './job-helpers.js';

/**
 * `webhooks` queue: one attempt per run (core/src/webhooks/deliveries.ts). A failed attempt throws,
 * BullMQ retries with the webhook backoff; the last failed attempt dead-letters the delivery.
 */
export function webhooksProcessor(deps: {
  pool: Pool;
  timeoutMs: number;
  userAgent: string;
  allowedPrivateAddresses?: BlockList | undefined;
  keyring: WebhookSecretKeyring;
}) {
  return async (job: Job): Promise<DeliverOutcome> => {
    const { deliveryId } = parsePayload(webhookJobSchema, job);
    try {
      return await attemptDelivery(deps.pool, deliveryId, {
        timeoutMs: deps.timeoutMs,
        userAgent: deps.userAgent,
        allowedPrivateAddresses: deps.allowedPrivateAddresses,
        keyring: deps.keyring,
      });
    } catch (error) {
      if (isFinalFailure(job, error)) {
        await markDeliveryDead(
          deps.pool,
          deliveryId,
          `gave up after attempt ${job.attemptsMade + 1}: ${errorMessage(error)}`,
        );
      }
      throw error;
    }
  };
}
