/**
 * The audit trail of admin actions (issue 11, finding 4): who did what to which thing, when, and under which
 * request id (the one nginx sends and our logs carry), so a row leads to the matching access and error log lines.
 *
 * `audited` runs an action and writes its row in one transaction, so a row exists exactly when the action took
 * effect: an action that changed nothing (unknown id, refused write) or failed leaves none. Rows are only ever
 * inserted; nothing in the application updates or deletes them.
 */
import { withTransaction, type Pool, type PoolClient, type Queryable } from '../db.js';

export const AUDIT_ACTIONS = [
  'token.issue',
  'token.revoke',
  'webhook_endpoint.create',
  'webhook_endpoint.update',
  'webhook_endpoint.delete',
  'webhook_delivery.redrive',
  'category.create',
  'category.update',
  'category.deactivate',
  'product.create',
  'product.update',
  'product.deactivate',
  'import.start',
  'order.mark_paid',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Who acted: the authenticated user and the token they used, and the request's id. */
export interface AuditActor {
  userId: number;
  tokenId: number;
  requestId: string;
}

export interface AuditEntry {
  action: AuditAction;
  /** What was acted on: a table's noun (`product`, `api_token`, ...) and the row's id. */
  targetType: string;
  targetId: string | number;
  /** What changed, for the reader: field names, never secrets or tokens. */
  details?: Record<string, unknown>;
}

export interface AuditRecord {
  id: number;
  occurredAt: Date;
  actorUserId: number;
  actorTokenId: number;
  requestId: string;
  action: AuditAction;
  targetType: string;
  targetId: string;
  details: Record<string, unknown>;
}

export async function recordAudit(db: Queryable, actor: AuditActor, entry: AuditEntry): Promise<void> {
  await db.query(
    `INSERT INTO audit_log (actor_user_id, actor_token_id, request_id, action, target_type, target_id, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      actor.userId,
      actor.tokenId,
      actor.requestId,
      entry.action,
      entry.targetType,
      String(entry.targetId),
      entry.details ?? {},
    ],
  );
}

/**
 * Runs `action` in a transaction and, when `entryOf` says it took effect (an entry, not undefined), writes its
 * audit row in the same transaction before the commit.
 */
export async function audited<T>(
  pool: Pool,
  actor: AuditActor,
  action: (client: PoolClient) => Promise<T>,
  entryOf: (result: T) => AuditEntry | undefined,
): Promise<T> {
  return withTransaction(pool, async (client) => {
    const result = await action(client);
    const entry = entryOf(result);
    if (entry) await recordAudit(client, actor, entry);
    return result;
  });
}

export interface AuditPage {
  data: AuditRecord[];
  nextCursor: string | null;
}

/** Audit rows, newest first, keyset-paginated by id (`cursor`: the last id of the previous page). */
export async function listAuditRecords(
  pool: Pool,
  page: { limit: number; before?: number | undefined },
): Promise<AuditPage> {
  const { rows } = await pool.query<AuditRecord>(
    `SELECT id, occurred_at AS "occurredAt", actor_user_id AS "actorUserId", actor_token_id AS "actorTokenId",
            request_id AS "requestId", action, target_type AS "targetType", target_id AS "targetId", details
       FROM audit_log
      WHERE $1::bigint IS NULL OR id < $1
      ORDER BY id DESC
      LIMIT $2`,
    [page.before ?? null, page.limit + 1],
  );
  const data = rows.slice(0, page.limit);
  const last = data.at(-1);
  return { data, nextCursor: rows.length > page.limit && last ? String(last.id) : null };
}
