/**
 * Webhook signing secrets at rest (issue 11, finding 4): the row holds a ciphertext under a named key, never the
 * secret; an altered ciphertext signs nothing; the stack's worker signs with the opened secret; and a rotation done
 * as worker/README.md says (new key in the key file, the old one listed as previous, worker restarted) moves every
 * row under the new key while deliveries stay correctly signed.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createWebhookSecretKeyring,
  verifySignature,
  webhookSecretKeyId,
  WebhookSecretUnreadableError,
} from '@stack/core';
import { readStackEnv } from '../../tools/stack/native/env.ts';
import { nodeEnvironment } from '../../tools/stack/native/services.ts';
import { nativeStack, repoRoot } from '../support/stack.js';
import {
  bearer,
  deliveryOf,
  FAST_WORKER_ENV,
  placeOrder,
  stack,
  startReceiver,
  startShop,
  startWorker,
  waitFor,
  type TestApi,
} from './support.js';

let shop: Awaited<ReturnType<typeof startShop>>;
let api: TestApi;
const endpointIds: number[] = [];

beforeAll(async () => {
  shop = await startShop();
  api = shop.api;
});

afterAll(async () => {
  for (const id of endpointIds)
    await fetch(`${api.url}/api/v1/admin/webhooks/${id}`, { method: 'DELETE', headers: bearer(shop.admin.token) });
  await api?.close();
});

async function register(url: string): Promise<{ id: number; secret: string }> {
  const response = await fetch(`${api.url}/api/v1/admin/webhooks`, {
    method: 'POST',
    headers: { ...bearer(shop.admin.token), 'Content-Type': 'application/json' },
    body: JSON.stringify({ url, eventTypes: ['order.created'] }),
  });
  expect(response.status).toBe(201);
  const endpoint = (await response.json()) as { id: number; secret: string };
  endpointIds.push(endpoint.id);
  return endpoint;
}

interface StoredRow {
  clear_secret: string | null;
  secret_key_id: string | null;
  secret_ciphertext: Buffer | null;
}

const storedRow = async (id: number): Promise<StoredRow & Record<string, unknown>> =>
  (await api.pool.query<StoredRow & Record<string, unknown>>('SELECT * FROM webhook_endpoints WHERE id = $1', [id]))
    .rows[0] as StoredRow & Record<string, unknown>;

const keyFile = () => stack().env.WEBHOOK_SECRET_KEY_FILE as string;

describe('webhook secrets at rest', () => {
  it('when a secret is sealed, then it opens only with its key on its own row, and any altered bit is refused', () => {
    const keyring = createWebhookSecretKeyring(randomBytes(32).toString('hex'));
    const sealed = keyring.seal('whsec_example', 7);
    expect(sealed.keyId).toBe(keyring.currentKeyId);
    expect(sealed.ciphertext.includes(Buffer.from('whsec_example'))).toBe(false);
    expect(keyring.open(sealed, 7)).toBe('whsec_example');
    // Two seals of one secret differ (a fresh IV each time).
    expect(keyring.seal('whsec_example', 7).ciphertext.equals(sealed.ciphertext)).toBe(false);

    for (let index = 0; index < sealed.ciphertext.length; index += 1) {
      const altered = Buffer.from(sealed.ciphertext);
      altered[index] = (altered[index] as number) ^ 0x01;
      expect(() => keyring.open({ keyId: sealed.keyId, ciphertext: altered }, 7)).toThrow(WebhookSecretUnreadableError);
    }
    expect(() => keyring.open(sealed, 8)).toThrow(WebhookSecretUnreadableError);
    expect(() => keyring.open({ ...sealed, ciphertext: sealed.ciphertext.subarray(0, 20) }, 7)).toThrow(
      WebhookSecretUnreadableError,
    );
    const otherKey = createWebhookSecretKeyring(randomBytes(32).toString('hex'));
    expect(() => otherKey.open(sealed, 7)).toThrow(
      /neither WEBHOOK_SECRET_KEY nor one of WEBHOOK_SECRET_PREVIOUS_KEYS/,
    );
    // After a rotation: the old key, listed as previous, still opens; the new one seals.
    const oldKey = randomBytes(32).toString('hex');
    const before = createWebhookSecretKeyring(oldKey).seal('whsec_rotated', 9);
    const rotated = createWebhookSecretKeyring(randomBytes(32).toString('hex'), [oldKey]);
    expect(rotated.open(before, 9)).toBe('whsec_rotated');
    expect(rotated.seal('whsec_rotated', 9).keyId).toBe(rotated.currentKeyId);
    expect(rotated.currentKeyId).not.toBe(before.keyId);
  });

  it('when an endpoint is registered, then its row holds a ciphertext under the current key and no cleartext secret', async () => {
    const endpoint = await register('http://127.0.0.1:9/never-called');
    const row = await storedRow(endpoint.id);
    expect(row.clear_secret).toBeNull();
    expect(row.secret_key_id).toBe(webhookSecretKeyId(readFileSync(keyFile(), 'utf8').trim()));
    expect(row.secret_ciphertext?.length).toBe(12 + 16 + Buffer.byteLength(endpoint.secret));
    // Not in any column, in any encoding a reader might try.
    const secretBytes = Buffer.from(endpoint.secret);
    for (const [column, value] of Object.entries(row)) {
      const text = Buffer.isBuffer(value) ? value.toString('latin1') : JSON.stringify(value);
      expect(text.includes(endpoint.secret), column).toBe(false);
      if (Buffer.isBuffer(value)) expect(value.includes(secretBytes), column).toBe(false);
    }
    expect(JSON.stringify(row)).not.toContain(endpoint.secret.slice('whsec_'.length, 20));
  });

  it('when a stored ciphertext is altered, then the worker sends nothing and records secret_unreadable', async () => {
    const receiver = await startReceiver(() => 204);
    try {
      const endpoint = await register(receiver.url);
      await api.pool.query(
        `UPDATE webhook_endpoints SET secret_ciphertext = overlay(secret_ciphertext PLACING '\\xff'::bytea FROM 30 FOR 1)
          WHERE id = $1`,
        [endpoint.id],
      );
      const orderId = await placeOrder(api, shop.customer.token, shop.productId);
      const delivery = await waitFor('the delivery to fail', async () => {
        const found = await deliveryOf(api.pool, endpoint.id, orderId);
        return found && found.attempts > 0 ? found : undefined;
      });
      expect(delivery).toMatchObject({ lastError: 'secret_unreadable', lastStatusCode: null });
      expect(receiver.forOrder(orderId)).toEqual([]);
      // Gone, so that the reseal runs below find every other row readable.
      await api.pool.query('DELETE FROM webhook_endpoints WHERE id = $1', [endpoint.id]);
    } finally {
      await receiver.close();
    }
  });

  it('when the reseal command meets a row it cannot open, then it names it and exits 1; with the right keys, 0', async () => {
    const endpoint = await register('http://127.0.0.1:9/never-called');
    const before = await storedRow(endpoint.id);
    const foreign = reseal({ WEBHOOK_SECRET_KEY: randomBytes(32).toString('hex') });
    expect(foreign.status, foreign.stderr).toBe(1);
    expect(foreign.stderr).toMatch(new RegExp(`endpoints [0-9, ]*\\b${endpoint.id}\\b`));
    expect(foreign.stderr).toContain('add that key to WEBHOOK_SECRET_PREVIOUS_KEYS');
    expect((await storedRow(endpoint.id)).secret_ciphertext).toEqual(before.secret_ciphertext);

    const own = reseal({});
    expect(own.status, own.stderr).toBe(0);
    expect((await storedRow(endpoint.id)).secret_key_id).toBe(before.secret_key_id);
  });

  it('when the key is rotated as documented, then the worker reseals every row under the new key and deliveries stay signed', async () => {
    const receiver = await startReceiver(() => 204);
    const oldKey = readFileSync(keyFile(), 'utf8').trim();
    const newKey = randomBytes(32).toString('hex');
    try {
      // A row sealed under the old key, and one in clear as migration 009 leaves rows written before it.
      const sealedBefore = await register(receiver.url);
      const legacy = await register(receiver.url);
      await api.pool.query(
        `UPDATE webhook_endpoints SET clear_secret = $2, secret_key_id = NULL, secret_ciphertext = NULL WHERE id = $1`,
        [legacy.id, legacy.secret],
      );

      await rotateWorkerKey(newKey, oldKey);
      for (const id of [sealedBefore.id, legacy.id]) {
        await waitFor(`endpoint ${id} resealed`, async () => {
          const row = await storedRow(id);
          return row.secret_key_id === webhookSecretKeyId(newKey) && row.clear_secret === null;
        });
      }

      const orderId = await placeOrder(api, shop.customer.token, shop.productId);
      const hooks = await waitFor('both deliveries', () => {
        const mine = receiver.forOrder(orderId);
        return mine.length >= 2 ? mine : undefined;
      });
      const secrets = [sealedBefore.secret, legacy.secret];
      for (const hook of hooks) {
        const signature = hook.headers['webhook-signature'] as string;
        const matches = secrets.filter((secret) =>
          verifySignature(secret, signature, hook.body, { toleranceSeconds: 300 }),
        );
        expect(matches).toHaveLength(1);
      }
      // The old key alone no longer opens the rows: it can be dropped from the previous keys.
      const row = await storedRow(sealedBefore.id);
      const sealed = { keyId: row.secret_key_id as string, ciphertext: row.secret_ciphertext as Buffer };
      expect(() => createWebhookSecretKeyring(oldKey).open(sealed, sealedBefore.id)).toThrow(
        WebhookSecretUnreadableError,
      );
      expect(createWebhookSecretKeyring(newKey).open(sealed, sealedBefore.id)).toBe(sealedBefore.secret);
    } finally {
      // Back to the stack's own key, the same way, so later tests' api (which seals with it) and worker agree.
      await rotateWorkerKey(oldKey, newKey);
      await waitFor('every row back under the stack key', async () => {
        const { rows } = await api.pool.query(
          `SELECT 1 FROM webhook_endpoints WHERE secret_key_id IS DISTINCT FROM $1 AND clear_secret IS NULL`,
          [webhookSecretKeyId(oldKey)],
        );
        return rows.length === 0;
      });
      await nativeStack().stop('worker-1');
      await startWorker();
      await receiver.close();
    }
  });
});

/** `webhook-secrets.js reseal` with the settings the stack's worker gets, `overrides` on top. */
function reseal(overrides: Record<string, string>) {
  const { env, unset } = nodeEnvironment(readStackEnv(stack().env.NATIVE_DIR as string));
  const processEnv: Record<string, string | undefined> = { ...process.env, ...env, LOG_LEVEL: 'warn' };
  for (const key of unset) delete processEnv[key];
  if (overrides.WEBHOOK_SECRET_KEY !== undefined) delete processEnv.WEBHOOK_SECRET_KEY_FILE;
  return spawnSync(process.execPath, [join(repoRoot, 'core/dist/cli/webhook-secrets.js'), 'reseal'], {
    env: { ...processEnv, ...overrides },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

/** The documented rotation on the stack's worker: `key` into the key file, `previous` listed, worker restarted. */
async function rotateWorkerKey(key: string, previous: string): Promise<void> {
  writeFileSync(keyFile(), key);
  await nativeStack().stop('worker-1');
  await nativeStack().start('worker-1', { ...FAST_WORKER_ENV, WEBHOOK_SECRET_PREVIOUS_KEYS: previous });
}
