/**
 * API token records. The token itself is returned once, at issue; the table keeps only its HMAC
 * (tokens.ts), so neither the database nor its backups can authenticate anyone. Revoking sets
 * revoked_at (kept for audit) and the authentication query refuses the token from then on.
 */
import type { Pool, Queryable } from '../db.js';
import { generateToken, hashToken } from './tokens.js';

export type Role = 'customer' | 'admin';

export interface ApiTokenRecord {
  id: number;
  userId: number;
  name: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

/** Who a presented token belongs to, for the authentication middleware. */
export interface TokenOwner {
  tokenId: number;
  userId: number;
  role: Role;
  expiresAt: Date | null;
}

const RECORD_COLUMNS = `id, user_id AS "userId", name, created_at AS "createdAt", expires_at AS "expiresAt", revoked_at AS "revokedAt"`;

/** Issues a token for an existing user: the record and the token (shown once), or undefined for an unknown user. */
export async function issueApiToken(
  db: Queryable,
  pepper: string,
  input: { userId: number; name: string; expiresAt?: Date | undefined },
): Promise<{ token: string; record: ApiTokenRecord } | undefined> {
  const token = generateToken();
  const { rows } = await db.query<ApiTokenRecord>(
    `INSERT INTO api_tokens (user_id, name, token_hash, expires_at)
     SELECT id, $2, $3, $4 FROM users WHERE id = $1
     RETURNING ${RECORD_COLUMNS}`,
    [input.userId, input.name, hashToken(token, pepper), input.expiresAt ?? null],
  );
  const record = rows[0];
  return record ? { token, record } : undefined;
}

/** Revokes a token; idempotent. False when no token has this id. */
export async function revokeApiToken(db: Queryable, tokenId: number): Promise<boolean> {
  const { rows } = await db.query(
    `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id`,
    [tokenId],
  );
  return rows.length > 0;
}

/** A user's tokens (never their hashes), newest first; undefined for an unknown user. */
export async function listApiTokens(pool: Pool, userId: number): Promise<ApiTokenRecord[] | undefined> {
  const user = await pool.query('SELECT 1 FROM users WHERE id = $1', [userId]);
  if (user.rows.length === 0) return undefined;
  const { rows } = await pool.query<ApiTokenRecord>(
    `SELECT ${RECORD_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC`,
    [userId],
  );
  return rows;
}

/** The owner of a live (not revoked, not expired) token with this hash: one unique-index lookup. */
export async function findTokenOwner(pool: Pool, tokenHash: Buffer): Promise<TokenOwner | undefined> {
  const { rows } = await pool.query<TokenOwner>(
    `SELECT t.id AS "tokenId", u.id AS "userId", u.role, t.expires_at AS "expiresAt"
       FROM api_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())`,
    [tokenHash],
  );
  return rows[0];
}
