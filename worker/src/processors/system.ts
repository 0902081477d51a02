import { UnrecoverableError, type Job } from 'bullmq';
import { echoJobSchema, type Logger } from '@stack/core';

/**
 * `system` queue: the trivial `echo` job proves the whole path (api or CLI -> queue Redis -> worker).
 * An invalid payload can never succeed, so it fails at once instead of using up its retries.
 */
export function systemProcessor(logger: Logger) {
  return async (job: Job): Promise<{ echoed: string }> => {
    const parsed = echoJobSchema.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`invalid ${job.name} payload: ${parsed.error.message}`);
    logger.debug({ jobId: job.id }, 'echo job');
    return { echoed: parsed.data.message };
  };
}
