/**
 * Bearer tokens for load tests. Seeded customer n (user `customer<n>@example.com`) gets the token
 * `<LOADTEST_TOKEN_SECRET>-c<n>`, so a load generator that is given the secret builds every customer's
 * token by concatenation: k6 in its container needs no crypto module and no file from the seed, and
 * the native runner computes the same strings (load-tests/lib/workload-core.js loadtestToken).
 *
 * Development and load-test data only, like DEV_CUSTOMER_TOKEN: whoever knows the secret can act as
 * every one of these customers. Only the HMAC of each token is stored, as for any token.
 */
import { hashToken } from '../auth/tokens.js';
import type { PoolClient } from '../db.js';

type Queryable = Pick<PoolClient, 'query'>;

export function loadtestToken(secret: string, customer: number): string {
  return `${secret}-c${customer}`;
}

/**
 * Stores the tokens of customers 1..`customers` (those that exist) and returns how many are now in
 * place. Idempotent: tokens already stored are left alone, so runners may call it before every run.
 */
export async function ensureLoadtestTokens(
  client: Queryable,
  options: { secret: string; customers: number; pepper: string },
): Promise<number> {
  const emails: string[] = [];
  const hashes: Buffer[] = [];
  for (let n = 1; n <= options.customers; n += 1) {
    emails.push(`customer${n}@example.com`);
    hashes.push(hashToken(loadtestToken(options.secret, n), options.pepper));
  }
  const { rows } = await client.query<{ stored: number }>(
    `WITH wanted AS (
       SELECT u.id AS user_id, t.token_hash
         FROM unnest($1::text[], $2::bytea[]) AS t(email, token_hash)
         JOIN users u ON u.email = t.email AND u.role = 'customer'
     ), inserted AS (
       INSERT INTO api_tokens (user_id, name, token_hash)
       SELECT user_id, 'loadtest', token_hash FROM wanted
       ON CONFLICT (token_hash) DO NOTHING
     )
     SELECT count(*)::int AS stored FROM wanted`,
    [emails, hashes],
  );
  return rows[0]?.stored ?? 0;
}
