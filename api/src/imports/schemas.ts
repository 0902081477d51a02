/** Request and response schemas of the import routes, named for the OpenAPI document. */
import { z } from 'zod';
import { INT4_MAX, jobStatus, limitQuery, named, timestamp, urlInteger, uuidParams } from '../http/schemas.js';

export const importIdParams = uuidParams;

export const importSchema = named(
  'Import',
  z.strictObject({
    id: z.uuid(),
    format: z.enum(['csv', 'ndjson']),
    fileBytes: z.number().int(),
    status: jobStatus,
    progress: z.number().int().min(0).max(100).describe('Percent of the file read so far.'),
    rowsTotal: z.number().int().describe('Data rows read so far (lines that are not blank or the header).'),
    rowsApplied: z.number().int().describe('Valid rows written (or already identical) in the catalog.'),
    rowsFailed: z.number().int().describe('Rows refused; see the errors list for the reason per line.'),
    error: z.string().nullable().describe('Why the whole import failed (bad header, unreadable file).'),
    createdAt: timestamp,
    startedAt: timestamp.nullable(),
    completedAt: timestamp.nullable(),
    links: z.strictObject({ self: z.string(), errors: z.string() }),
  }),
);

export const importErrorListSchema = named(
  'ImportErrorList',
  z.strictObject({
    data: z.array(z.strictObject({ line: z.number().int(), reason: z.string() })),
    nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
  }),
);

export const importErrorsQuery = z.strictObject({
  cursor: urlInteger(0, INT4_MAX).optional().describe('`nextCursor` of the previous page (a line number).'),
  limit: limitQuery.describe('Page size, 1 to 100 (default 20).'),
});
