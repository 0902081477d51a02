/**
 * Reseal: moves every stored webhook secret under the keyring's current key. It seals rows still in clear
 * (written before migration 009) and rows sealed under a previous key, so that after a rotation the old key can
 * be dropped from WEBHOOK_SECRET_PREVIOUS_KEYS. The worker runs it at start; `webhook-secrets reseal`
 * (core/src/cli/webhook-secrets.ts) runs it on demand. Safe to run from several processes at once: each row is
 * rewritten only if it still holds what was read.
 */
import type { Pool } from '../db.js';
import { WebhookSecretUnreadableError, type WebhookSecretKeyring } from './secret-keyring.js';

export interface ResealResult {
  /** Rows moved under the current key. */
  resealed: number;
  /** Rows under a key this keyring does not hold (or that fail their tag): left as they are, by id. */
  unreadable: number[];
}

interface StoredSecret {
  id: number;
  clearSecret: string | null;
  keyId: string | null;
  ciphertext: Buffer | null;
}

export async function resealWebhookSecrets(pool: Pool, keyring: WebhookSecretKeyring): Promise<ResealResult> {
  const { rows } = await pool.query<StoredSecret>(
    `SELECT id, clear_secret AS "clearSecret", secret_key_id AS "keyId", secret_ciphertext AS ciphertext
       FROM webhook_endpoints
      WHERE clear_secret IS NOT NULL OR secret_key_id <> $1
      ORDER BY id`,
    [keyring.currentKeyId],
  );
  const result: ResealResult = { resealed: 0, unreadable: [] };
  for (const row of rows) {
    let secret: string;
    try {
      secret =
        row.clearSecret ??
        keyring.open({ keyId: row.keyId ?? '', ciphertext: row.ciphertext ?? Buffer.alloc(0) }, row.id);
    } catch (error) {
      if (!(error instanceof WebhookSecretUnreadableError)) throw error;
      result.unreadable.push(row.id);
      continue;
    }
    const sealed = keyring.seal(secret, row.id);
    const { rowCount } = await pool.query(
      `UPDATE webhook_endpoints SET clear_secret = NULL, secret_key_id = $2, secret_ciphertext = $3
        WHERE id = $1 AND clear_secret IS NOT DISTINCT FROM $4 AND secret_ciphertext IS NOT DISTINCT FROM $5`,
      [row.id, sealed.keyId, sealed.ciphertext, row.clearSecret, row.ciphertext],
    );
    result.resealed += rowCount ?? 0;
  }
  return result;
}
