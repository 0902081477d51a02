/** Request and response schemas of the report routes, named for the OpenAPI document. The request rules live in @stack/core, shared with the worker. */
import { z } from 'zod';
import { REPORT_GROUPINGS, reportParamsSchema } from '@stack/core';
import { jobStatus, named, timestamp, uuidParams } from '../http/schemas.js';

export const reportIdParams = uuidParams;

export const reportRequestSchema = named(
  'ReportRequest',
  reportParamsSchema,
  'Sales report over UTC days `from`..`to` (both included), one CSV row per group. Cancelled orders are left out.',
);

export const reportSchema = named(
  'Report',
  z.strictObject({
    id: z.uuid(),
    status: jobStatus,
    progress: z.number().int().min(0).max(100).describe('Percent of the orders in range read so far.'),
    params: z.strictObject({ from: z.iso.date(), to: z.iso.date(), groupBy: z.enum(REPORT_GROUPINGS) }),
    rowCount: z.number().int().nullable().describe('CSV rows (groups) once completed.'),
    error: z.string().nullable(),
    createdAt: timestamp,
    startedAt: timestamp.nullable(),
    completedAt: timestamp.nullable(),
    links: z.strictObject({ self: z.string(), download: z.string().nullable() }),
  }),
);
