import type { Job } from 'bullmq';
import {
  deleteOldOutboxRows,
  echoJobSchema,
  expireLapsedOrders,
  ORDER_LAPSE_JOB,
  OUTBOX_RETENTION_JOB,
  type CatalogInvalidator,
  type Logger,
  type OutboxRetentionOptions,
  type Pool,
} from '@stack/core';
import { parsePayload } from './job-helpers.js';

export interface SystemDeps {
  pool: Pool;
  catalog: CatalogInvalidator;
  logger: Logger;
  /** Orders expired per transaction by the lapse. */
  lapseBatchSize: number;
  /** What the outbox retention deletes. */
  outboxRetention: OutboxRetentionOptions;
}

/**
 * `system` queue: the trivial `echo` job proves the whole path (api or CLI -> queue Redis -> worker);
 * `orders.lapse` (scheduled, see job-schedules.ts) expires pending orders whose hold has passed;
 * `outbox.retention` (scheduled) deletes old published outbox rows.
 */
export function systemProcessor(deps: SystemDeps) {
  return async (job: Job): Promise<{ echoed: string } | { expired: number } | { deleted: number }> => {
    if (job.name === ORDER_LAPSE_JOB) {
      const result = await expireLapsedOrders(deps.pool, { batchSize: deps.lapseBatchSize });
      // Stock shows in product details: cached ones must not outlive the stock coming back.
      if (result.productIds.length > 0) await deps.catalog.stockChanged(result.productIds);
      if (result.expired > 0) deps.logger.info({ expired: result.expired }, 'lapsed orders expired');
      return { expired: result.expired };
    }
    if (job.name === OUTBOX_RETENTION_JOB) {
      const result = await deleteOldOutboxRows(deps.pool, deps.outboxRetention);
      if (result.deleted > 0) deps.logger.info({ deleted: result.deleted }, 'old published outbox rows deleted');
      return result;
    }
    const { message } = parsePayload(echoJobSchema, job);
    deps.logger.debug({ jobId: job.id }, 'echo job');
    return { echoed: message };
  };
}
