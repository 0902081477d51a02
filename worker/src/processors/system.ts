import type { Job } from 'bullmq';
import { echoJobSchema, type Logger } from '@stack/core';
import { parsePayload } from './job-helpers.js';

/** `system` queue: the trivial `echo` job proves the whole path (api or CLI -> queue Redis -> worker). */
export function systemProcessor(logger: Logger) {
  return async (job: Job): Promise<{ echoed: string }> => {
    const { message } = parsePayload(echoJobSchema, job);
    logger.debug({ jobId: job.id }, 'echo job');
    return { echoed: message };
  };
}
