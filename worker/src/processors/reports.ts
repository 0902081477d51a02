import type { Job } from 'bullmq';
import { generateReport, markReportFailed, reportJobSchema, type GenerateReportResult, type Pool } from '@stack/core';
import { errorMessage, isFinalFailure, parsePayload, reportJobProgress } from './job-helpers.js';

/** `reports` queue: generates one sales report (core/src/reports/generate.ts). */
export function reportsProcessor(deps: { pool: Pool; batchRows: number }) {
  return async (job: Job): Promise<GenerateReportResult> => {
    const { reportId } = parsePayload(reportJobSchema, job);
    try {
      return await generateReport(deps.pool, reportId, {
        batchRows: deps.batchRows,
        onProgress: (percent) => reportJobProgress(job, percent),
      });
    } catch (error) {
      if (isFinalFailure(job, error)) await markReportFailed(deps.pool, reportId, errorMessage(error));
      throw error;
    }
  };
}
