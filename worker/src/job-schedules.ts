/**
 * The worker's periodic jobs run as BullMQ job schedulers on the `system` queue: the order lapse
 * (core/src/orders/lifecycle.ts, expireLapsedOrders) and the outbox retention (core/src/outbox/retention.ts).
 * Every worker upserts the same scheduler ids, so there is one schedule and one run per interval however
 * many workers there are (https://docs.bullmq.io/guide/job-schedulers). A run that overlaps another, or
 * repeats, is harmless: an order expires once, an outbox row is deleted once.
 */
import type { Queue } from 'bullmq';
import type { Logger } from '@stack/core';

export interface RepeatingJob {
  /** The scheduler id, the same in every worker. */
  schedulerId: string;
  /** The job's name on the queue (what the processor dispatches on). */
  jobName: string;
  everyMs: number;
}

const RETRY_MS = 5_000;

/**
 * Upserts the schedule now, or keeps retrying in the background while the queue Redis is unreachable
 * (the worker must start without it, as its other jobs wait for it). Returns a stop function.
 */
export function scheduleRepeatingJob(queue: Queue, job: RepeatingJob, logger: Logger): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const attempt = async (): Promise<void> => {
    try {
      await queue.upsertJobScheduler(job.schedulerId, { every: job.everyMs }, { name: job.jobName, data: {} });
      logger.info({ job: job.jobName, everyMs: job.everyMs }, 'job scheduled');
    } catch (error) {
      logger.warn({ err: error, job: job.jobName, retryMs: RETRY_MS }, 'cannot schedule the job yet; retrying');
      if (!stopped) timer = setTimeout(() => void attempt(), RETRY_MS);
    }
  };
  void attempt();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
