/**
 * Webhook signing secrets at rest (issue 11, finding 4): each endpoint's secret is stored sealed with
 * AES-256-GCM, never in clear. The key comes from WEBHOOK_SECRET_KEY(_FILE); keys that sealed earlier rows
 * and still open them come from WEBHOOK_SECRET_PREVIOUS_KEYS(_FILE).
 *
 * - The AES key is HKDF-SHA256 of the configured key text (RFC 5869), so any high-entropy string
 *   (`openssl rand -hex 32`) is a key, and the text itself is never used as a cipher key directly.
 * - Each row stores the key id next to its ciphertext: the first 16 hex digits of an HMAC of the key text,
 *   which names the key without revealing it. Opening picks the key by that id; rotation is a new current key,
 *   the old one listed as previous until `webhook-secrets reseal` has moved every row (worker/README.md).
 * - The ciphertext is `iv (12 bytes) | tag (16 bytes) | sealed bytes`, with a fresh random IV per seal (NIST SP
 *   800-38D, 8.2.2). The endpoint id is the additional authenticated data, so a ciphertext copied onto another
 *   endpoint's row, or altered in any bit, fails to open instead of signing with a wrong secret.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_INFO = 'node-stack webhook secret aes-256-gcm v1';
const KEY_ID_LABEL = 'node-stack webhook secret key id v1';

/** A secret as stored: which key sealed it, and the ciphertext (iv | tag | sealed bytes). */
export interface SealedSecret {
  keyId: string;
  ciphertext: Buffer;
}

export class WebhookSecretUnreadableError extends Error {
  override name = 'WebhookSecretUnreadableError';
}

export interface WebhookSecretKeyring {
  /** The id of the key new seals use. */
  readonly currentKeyId: string;
  seal(secret: string, endpointId: number): SealedSecret;
  /** The secret in clear; throws WebhookSecretUnreadableError for an unknown key id or a ciphertext that fails its tag. */
  open(sealed: SealedSecret, endpointId: number): string;
}

interface Key {
  id: string;
  aesKey: Buffer;
}

export function webhookSecretKeyId(keyText: string): string {
  return createHmac('sha256', keyText).update(KEY_ID_LABEL).digest('hex').slice(0, 16);
}

function deriveKey(keyText: string): Key {
  const aesKey = Buffer.from(hkdfSync('sha256', Buffer.from(keyText, 'utf8'), Buffer.alloc(0), KEY_INFO, 32));
  return { id: webhookSecretKeyId(keyText), aesKey };
}

const additionalData = (endpointId: number) => Buffer.from(`webhook_endpoints:${endpointId}`, 'utf8');

/** The keys in a WEBHOOK_SECRET_PREVIOUS_KEYS value: separated by commas, spaces or lines; `#` starts a comment line. */
export function parseWebhookKeyList(value: string): string[] {
  return value
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .flatMap((line) => line.split(/[\s,]+/))
    .filter((key) => key !== '');
}

/** The keyring of a process: `current` seals and opens, each of `previous` only opens. */
export function createWebhookSecretKeyring(current: string, previous: readonly string[] = []): WebhookSecretKeyring {
  const currentKey = deriveKey(current);
  const keys = new Map<string, Key>(previous.map((text) => [webhookSecretKeyId(text), deriveKey(text)]));
  keys.set(currentKey.id, currentKey);
  return {
    currentKeyId: currentKey.id,
    seal(secret, endpointId) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', currentKey.aesKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(additionalData(endpointId));
      const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
      return { keyId: currentKey.id, ciphertext: Buffer.concat([iv, cipher.getAuthTag(), sealed]) };
    },
    open(sealed, endpointId) {
      const key = keys.get(sealed.keyId);
      if (!key) {
        throw new WebhookSecretUnreadableError(
          `endpoint ${endpointId}: sealed with key ${sealed.keyId}, which is neither WEBHOOK_SECRET_KEY nor one of WEBHOOK_SECRET_PREVIOUS_KEYS`,
        );
      }
      if (sealed.ciphertext.length < IV_BYTES + TAG_BYTES) {
        throw new WebhookSecretUnreadableError(`endpoint ${endpointId}: the stored ciphertext is truncated`);
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key.aesKey, sealed.ciphertext.subarray(0, IV_BYTES), {
          authTagLength: TAG_BYTES,
        });
        decipher.setAAD(additionalData(endpointId));
        decipher.setAuthTag(sealed.ciphertext.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        return Buffer.concat([
          decipher.update(sealed.ciphertext.subarray(IV_BYTES + TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        throw new WebhookSecretUnreadableError(
          `endpoint ${endpointId}: the stored secret fails its authentication tag (altered, or moved from another row)`,
        );
      }
    },
  };
}
