/** The audit trail of admin actions (core/src/audit/audit-log.ts), for admins to read. */
import { listAuditRecords, type Pool } from '@stack/core';
import { routeGroup, type ApiModule } from '../http/route.js';
import { auditListQuery, auditRecordListSchema } from './schemas.js';

const route = routeGroup({ tag: 'Admin: audit', access: ['admin'] });

export function auditModule(deps: { pool: Pool }): ApiModule {
  const list = route({
    method: 'get',
    path: '/admin/audit-log',
    operationId: 'listAuditRecords',
    summary: 'Read the audit trail of admin actions',
    description:
      'One record per admin action that took effect (tokens issued and revoked, webhook endpoints created, changed ' +
      'and deleted, dead letters re-driven, catalog writes, imports started, orders marked paid), written in the ' +
      'same transaction as the action: who (user and token), what, on which target, when, and the request id. ' +
      'Newest first.',
    query: auditListQuery,
    responses: { 200: { description: 'One page of audit records.', schema: auditRecordListSchema } },
    handler: async ({ query }, _req, res) => {
      res.json(await listAuditRecords(deps.pool, { limit: query.limit, before: query.cursor }));
    },
  });
  return { prefix: '/api/v1', routes: [list] };
}
