/**
 * Request and response schemas of the job routes (reports, imports, webhooks, dead letters), named
 * for the OpenAPI document. Request rules live in @stack/core, shared with the worker.
 */
import { z } from 'zod';
import { createWebhookEndpointSchema, REPORT_GROUPINGS, reportParamsSchema, WEBHOOK_EVENT_TYPES } from '@stack/core';
import { cursorQuery, limitQuery, named, timestamp } from './common.js';

const jobStatus = z.enum(['queued', 'running', 'completed', 'failed']);
const uuidParams = z.strictObject({ id: z.uuid('must be an id this api returned') });

export const reportIdParams = uuidParams;
export const importIdParams = uuidParams;
export const deliveryIdParams = uuidParams;

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
  cursor: z
    .string()
    .regex(/^[0-9]{1,10}$/, 'must be a cursor returned by a previous page')
    .transform(Number)
    .optional()
    .describe('`nextCursor` of the previous page.'),
  limit: limitQuery.describe('Page size, 1 to 100 (default 20).'),
});

const endpointFields = {
  id: z.number().int(),
  url: z.string(),
  eventTypes: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
  active: z.boolean(),
  createdAt: timestamp,
};

export const webhookEndpointCreateSchema = named('WebhookEndpointCreate', createWebhookEndpointSchema);
export const webhookEndpointSchema = named('WebhookEndpoint', z.strictObject(endpointFields));
export const webhookEndpointCreatedSchema = named(
  'WebhookEndpointCreated',
  z.strictObject({
    ...endpointFields,
    secret: z.string().describe('Signing secret for Webhook-Signature. Shown only in this response.'),
  }),
);
export const webhookEndpointListSchema = named(
  'WebhookEndpointList',
  z.strictObject({ data: z.array(webhookEndpointSchema) }),
);

export const webhookDeliverySchema = named(
  'WebhookDelivery',
  z.strictObject({
    id: z.uuid().describe('Also the Webhook-Id header the receiver gets: stable across retries and re-drives.'),
    endpointId: z.number().int(),
    outboxId: z.number().int(),
    eventType: z.string(),
    status: z.enum(['pending', 'delivered', 'dead']),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: timestamp,
    deliveredAt: timestamp.nullable(),
  }),
);
export const webhookDeliveryListSchema = named(
  'WebhookDeliveryList',
  z.strictObject({
    data: z.array(webhookDeliverySchema),
    nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
  }),
);

export const deliveryListQuery = z.strictObject({
  status: z.enum(['dead']).default('dead').describe('Only dead letters are listed (deliveries out of attempts).'),
  cursor: cursorQuery.describe('`nextCursor` of the previous page.'),
  limit: limitQuery.describe('Page size, 1 to 100 (default 20).'),
});
