/** Schemas of the audit trail's route, named for the OpenAPI document. */
import { z } from 'zod';
import { AUDIT_ACTIONS } from '@stack/core';
import { idString, limitQuery, named, timestamp } from '../http/schemas.js';

export const auditRecordSchema = named(
  'AuditRecord',
  z.strictObject({
    id: z.number().int(),
    occurredAt: timestamp,
    actorUserId: z.number().int().describe('The admin who acted.'),
    actorTokenId: z.number().int().describe('The API token they acted with.'),
    requestId: z.string().describe('X-Request-Id of the request: the same id is in the edge and api logs.'),
    action: z.enum(AUDIT_ACTIONS),
    targetType: z.string().describe('What kind of thing was acted on: api_token, webhook_endpoint, product, ...'),
    targetId: z.string(),
    details: z.record(z.string(), z.unknown()).describe('What changed (field names; never secrets or tokens).'),
  }),
);

export const auditRecordListSchema = named(
  'AuditRecordList',
  z.strictObject({
    data: z.array(auditRecordSchema),
    nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
  }),
);

export const auditListQuery = z.strictObject({
  cursor: idString().optional().describe('`nextCursor` of the previous page.'),
  limit: limitQuery.describe('Page size, 1 to 100 (default 20).'),
});
