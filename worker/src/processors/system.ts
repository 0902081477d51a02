import type { Job } from 'bullmq';
import {
  echoJobSchema,
  expireLapsedOrders,
  ORDER_LAPSE_JOB,
  type CatalogInvalidator,
  type Logger,
  type Pool,
} from '@stack/core';
import { parsePayload } from './job-helpers.js';

export interface SystemDeps {
  pool: Pool;
  catalog: CatalogInvalidator;
  logger: Logger;
  /** Orders expired per transaction by the lapse. */
  lapseBatchSize: number;
}

/**
 * `system` queue: the trivial `echo` job proves the whole path (api or CLI -> queue Redis -> worker);
 * `orders.lapse` (scheduled, see order-lapse.ts) expires pending orders whose hold has passed.
 */
export function systemProcessor(deps: SystemDeps) {
  return async (job: Job): Promise<{ echoed: string } | { expired: number }> => {
    if (job.name === ORDER_LAPSE_JOB) {
      const result = await expireLapsedOrders(deps.pool, { batchSize: deps.lapseBatchSize });
      // Stock shows in product details: cached ones must not outlive the stock coming back.
      if (result.productIds.length > 0) await deps.catalog.stockChanged(result.productIds);
      if (result.expired > 0) deps.logger.info({ expired: result.expired }, 'lapsed orders expired');
      return { expired: result.expired };
    }
    const { message } = parsePayload(echoJobSchema, job);
    deps.logger.debug({ jobId: job.id }, 'echo job');
    return { echoed: message };
  };
}
