import { UnrecoverableError, type Job } from 'bullmq';
import type { z } from 'zod';

/**
 * Validates a job's payload against its shared schema. An invalid payload can never succeed, so it
 * fails at once (UnrecoverableError: no retries) instead of using up its attempts.
 */
export function parsePayload<T extends z.ZodType>(schema: T, job: Job): z.infer<T> {
  const parsed = schema.safeParse(job.data);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'data'}: ${issue.message}`);
    throw new UnrecoverableError(`invalid ${job.queueName}/${job.name} payload: ${fields.join('; ')}`);
  }
  return parsed.data;
}

/**
 * True when this failure is the job's last: no attempts left or a failure that retrying cannot fix.
 * `attemptsMade` counts the failed attempts before this one (a stalled run that came back does not count).
 */
export function isFinalFailure(job: Job, error: unknown): boolean {
  return error instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Progress for bull-board; the api reads progress from Postgres, so a Redis hiccup here is not a failure. */
export async function reportJobProgress(job: Job, percent: number): Promise<void> {
  await job.updateProgress(percent).catch(() => undefined);
}
