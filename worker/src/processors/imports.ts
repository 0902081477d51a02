import { UnrecoverableError, type Job } from 'bullmq';
import {
  ImportFileError,
  importJobSchema,
  markImportFailed,
  runImport,
  type ImportDeps,
  type RunImportResult,
} from '@stack/core';
import { errorMessage, isFinalFailure, parsePayload, reportJobProgress } from './job-helpers.js';

/** `imports` queue: runs one catalog import (core/src/imports/run.ts). */
export function importsProcessor(deps: ImportDeps & { batchRows: number; maxStoredErrors: number }) {
  return async (job: Job): Promise<RunImportResult> => {
    const { importId } = parsePayload(importJobSchema, job);
    try {
      return await runImport(deps, importId, {
        batchRows: deps.batchRows,
        maxStoredErrors: deps.maxStoredErrors,
        onProgress: (percent) => reportJobProgress(job, percent),
      });
    } catch (error) {
      // The file will not read any better next time: fail now, with the reason the admin needs.
      const failure = error instanceof ImportFileError ? new UnrecoverableError(error.message) : error;
      if (isFinalFailure(job, failure)) await markImportFailed(deps.pool, importId, errorMessage(failure));
      throw failure;
    }
  };
}
