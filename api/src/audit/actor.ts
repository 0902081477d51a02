/** Admin routes' side of the audit trail (core/src/audit/audit-log.ts): who acts, and their actions with their rows. */
import type { Request } from 'express';
import { audited, type AuditActor, type AuditEntry, type Pool, type PoolClient } from '@stack/core';

/** The request's authenticated user and token, and its request id (http/request-context.ts). */
export function auditActor(req: Request): AuditActor {
  if (!req.user) throw new Error('auditActor() in a public route: nothing authenticated the caller');
  return { userId: req.user.id, tokenId: req.user.tokenId, requestId: req.id };
}

/**
 * `audited` as the request's caller: `run`, and its audit row when `entryOf` gives one (undefined: the action changed
 * nothing), in one transaction.
 */
export function auditedFor(pool: Pool, req: Request) {
  const actor = auditActor(req);
  return <T>(run: (tx: PoolClient) => Promise<T>, entryOf: (result: T) => AuditEntry | undefined): Promise<T> =>
    audited(pool, actor, run, entryOf);
}
