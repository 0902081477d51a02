/**
 * Queue names, job payload schemas and default job options: the contract between the api (which
 * enqueues) and the worker (which runs). Both import it from here; nothing is copied.
 */
import { z } from 'zod';

export const QUEUES = {
  /** Small operational jobs; `system.echo` proves the worker path end to end. */
  system: 'system',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const echoJobSchema = z.strictObject({ message: z.string().max(1_000) });
export type EchoJob = z.infer<typeof echoJobSchema>;

/**
 * Defaults for every job: a bounded number of attempts with exponential backoff, and finished jobs
 * trimmed so Redis does not grow forever (failed ones kept longer for inspection).
 * https://docs.bullmq.io/guide/retrying-failing-jobs
 */
export const DEFAULT_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 24 * 3_600, count: 1_000 },
  removeOnFail: { age: 7 * 24 * 3_600, count: 5_000 },
} as const;
