/**
 * Webhook deliveries: one row per (endpoint, event), created by the fan-out of an outbox event and
 * sent by the worker's `webhooks` queue.
 *
 * What a receiver gets (see signature.ts for the signature scheme):
 *   POST <endpoint url>
 *   Content-Type: application/json
 *   Webhook-Id: <delivery id>          the same on every retry and re-drive: dedupe on it
 *   Webhook-Event: <event type>
 *   Webhook-Signature: t=<unix seconds>,v1=<hex>
 *   {"id":"<delivery id>","type":"order.created","createdAt":"<event time>","data":{...}}
 * Any 2xx within the timeout is success; anything else (other status, timeout, network error,
 * redirect, an address the policy refuses, a stored secret that does not open) is retried with
 * backoff until the attempt bound, then the delivery is dead-lettered, and an admin may re-drive it.
 * A failed attempt stores only a generic class (`http_5xx`, `timeout`, `connect_refused`,
 * `blocked_address`, ... see webhook-http.ts; `secret_unreadable`), never the raw cause.
 */
import type { BlockList } from 'node:net';
import { withTransaction, type Pool, type Queryable } from '../db.js';
import { recordEvent } from '../outbox/record.js';
import type { EventJob } from '../queues.js';
import { WebhookSecretUnreadableError, type WebhookSecretKeyring } from './secret-keyring.js';
import { recordAttempt } from './record-attempt.js';
import { SIGNATURE_HEADER, signatureHeader } from './signature.js';
import { postWebhook, statusClass, WebhookTransportError } from './webhook-http.js';

export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

export interface WebhookDelivery {
  id: string;
  endpointId: number;
  outboxId: number;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

const DELIVERY_COLUMNS = `id, endpoint_id AS "endpointId", outbox_id AS "outboxId", event_type AS "eventType", status,
  attempts, last_status_code AS "lastStatusCode", last_error AS "lastError", created_at AS "createdAt",
  delivered_at AS "deliveredAt"`;

/**
 * Creates one delivery per active endpoint subscribed to the event (none twice, whatever the
 * retries) and returns the ids of the deliveries of this event still pending.
 */
export async function fanOutEvent(pool: Pool, event: EventJob): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `WITH created AS (
       INSERT INTO webhook_deliveries (endpoint_id, outbox_id, event_type)
       SELECT id, $1, $2 FROM webhook_endpoints WHERE active AND $2 = ANY (event_types)
       ON CONFLICT (endpoint_id, outbox_id) DO NOTHING
       RETURNING id)
     SELECT id FROM created
     UNION
     SELECT id FROM webhook_deliveries WHERE outbox_id = $1 AND status = 'pending'`,
    [event.outboxId, event.type],
  );
  return rows.map((row) => row.id);
}

export class WebhookAttemptError extends Error {
  override name = 'WebhookAttemptError';
  constructor(
    message: string,
    readonly statusCode: number | null,
  ) {
    super(message);
  }
}

export type DeliverOutcome = { outcome: 'delivered'; statusCode: number } | { outcome: 'skipped'; reason: string };

/**
 * Makes one attempt at a delivery and records it. Resolves when the receiver answered 2xx (or there
 * is nothing to do: unknown, already delivered, endpoint inactive); throws WebhookAttemptError
 * otherwise, for the queue to retry.
 */
export async function attemptDelivery(
  pool: Pool,
  deliveryId: string,
  options: {
    timeoutMs: number;
    userAgent: string;
    now?: () => Date;
    /** WEBHOOK_ALLOWED_PRIVATE_CIDRS, parsed (address-policy.ts): private receivers admitted. */
    allowedPrivateAddresses?: BlockList | undefined;
    /** Opens the endpoint's sealed secret (secret-keyring.ts): this is the one place a secret is in clear. */
    keyring: WebhookSecretKeyring;
  },
): Promise<DeliverOutcome> {
  const { rows } = await pool.query<{
    status: DeliveryStatus;
    event_type: string;
    endpoint_id: number;
    url: string;
    clear_secret: string | null;
    secret_key_id: string | null;
    secret_ciphertext: Buffer | null;
    active: boolean;
    payload: Record<string, unknown>;
    created_at: Date;
  }>(
    `SELECT d.status, d.event_type, d.endpoint_id, e.url, e.clear_secret, e.secret_key_id, e.secret_ciphertext,
            e.active, o.payload, o.created_at
       FROM webhook_deliveries d
       JOIN webhook_endpoints e ON e.id = d.endpoint_id
       JOIN outbox o ON o.id = d.outbox_id
      WHERE d.id = $1`,
    [deliveryId],
  );
  const delivery = rows[0];
  if (!delivery) return { outcome: 'skipped', reason: 'delivery unknown (endpoint deleted?)' };
  if (delivery.status === 'delivered') return { outcome: 'skipped', reason: 'already delivered' };
  if (!delivery.active) return { outcome: 'skipped', reason: 'endpoint inactive' };

  // The body is the same on every attempt (the id inside it too); only the timestamp changes.
  const body = JSON.stringify({
    id: deliveryId,
    type: delivery.event_type,
    createdAt: delivery.created_at.toISOString(),
    data: delivery.payload,
  });
  const timestamp = Math.floor((options.now?.() ?? new Date()).getTime() / 1_000);
  let statusCode: number | null = null;
  let failure: string | null = null;
  try {
    // A row not yet resealed since migration 009 still signs with its clear value (the worker reseals at start).
    const secret =
      delivery.clear_secret ??
      options.keyring.open(
        { keyId: delivery.secret_key_id ?? '', ciphertext: delivery.secret_ciphertext ?? Buffer.alloc(0) },
        delivery.endpoint_id,
      );
    statusCode = await postWebhook({
      url: delivery.url,
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': options.userAgent,
        'Webhook-Id': deliveryId,
        'Webhook-Event': delivery.event_type,
        [SIGNATURE_HEADER]: signatureHeader(secret, timestamp, body),
      },
      body,
      timeoutMs: options.timeoutMs,
      allowed: options.allowedPrivateAddresses,
    });
    // A redirect (3xx) is a failure too: following it would send the signed event somewhere not registered.
    if (statusCode < 200 || statusCode >= 300) failure = statusClass(statusCode);
  } catch (error) {
    // A secret this worker cannot open (a key missing from its keyring, an altered row) sends nothing.
    if (error instanceof WebhookSecretUnreadableError) failure = 'secret_unreadable';
    else if (error instanceof WebhookTransportError) failure = error.failureClass;
    else throw error;
  }

  await recordAttempt(pool, { deliveryId, statusCode, failure });
  if (failure !== null) throw new WebhookAttemptError(failure, statusCode);
  return { outcome: 'delivered', statusCode: statusCode as number };
}

/** Dead-letters a delivery whose attempts are used up (unless it got through meanwhile). */
export async function markDeliveryDead(pool: Pool, deliveryId: string, reason: string): Promise<void> {
  await pool.query(
    `UPDATE webhook_deliveries SET status = 'dead', last_error = $2 WHERE id = $1 AND status = 'pending'`,
    [deliveryId, reason.slice(0, 1_000)],
  );
}

export interface DeadLetterPage {
  data: WebhookDelivery[];
  nextCursor: string | null;
}

/** Dead deliveries, newest first, keyset-paginated by an opaque cursor. */
export async function listDeadDeliveries(
  pool: Pool,
  page: { limit: number; cursor?: string | undefined },
): Promise<DeadLetterPage> {
  const after = page.cursor ? decodeCursor(page.cursor) : undefined;
  // The cursor keeps created_at as Postgres prints it (microseconds): a JavaScript Date would cut it
  // to milliseconds and skip rows on the page boundary.
  const { rows } = await pool.query<WebhookDelivery & { cursorAt: string }>(
    `SELECT ${DELIVERY_COLUMNS}, created_at::text AS "cursorAt" FROM webhook_deliveries
      WHERE status = 'dead' AND ($1::timestamptz IS NULL OR (created_at, id) < ($1::timestamptz, $2::uuid))
      ORDER BY created_at DESC, id DESC
      LIMIT $3`,
    [after?.createdAt ?? null, after?.id ?? null, page.limit + 1],
  );
  const data = rows.slice(0, page.limit).map(({ cursorAt: _cursorAt, ...delivery }) => delivery);
  const last = rows[page.limit - 1];
  return {
    data,
    nextCursor: rows.length > page.limit && last ? encodeCursor(last.cursorAt, last.id) : null,
  };
}

export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError';
}

const POSTGRES_TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;

function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(`${createdAt}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!createdAt || !id || !POSTGRES_TIMESTAMP.test(createdAt) || !/^[0-9a-f-]{36}$/.test(id)) {
    throw new InvalidCursorError('cursor is not one this api returned');
  }
  return { createdAt, id };
}

export type RedriveResult = { outcome: 'redriven'; delivery: WebhookDelivery } | { outcome: 'not-found' | 'not-dead' };

/**
 * Puts a dead delivery back to pending and asks for a new round of attempts through the outbox
 * (`webhook.redrive`), in one transaction: the re-drive happens even if the queue Redis is down now.
 */
export async function redriveDelivery(db: Queryable, deliveryId: string): Promise<RedriveResult> {
  return withTransaction(db, async (client) => {
    const { rows } = await client.query<WebhookDelivery>(
      `UPDATE webhook_deliveries SET status = 'pending' WHERE id = $1 AND status = 'dead' RETURNING ${DELIVERY_COLUMNS}`,
      [deliveryId],
    );
    const delivery = rows[0];
    if (!delivery) {
      const { rowCount } = await client.query(`SELECT 1 FROM webhook_deliveries WHERE id = $1`, [deliveryId]);
      return { outcome: rowCount ? 'not-dead' : 'not-found' };
    }
    await recordEvent(client, 'webhook.redrive', { deliveryId });
    return { outcome: 'redriven', delivery };
  });
}
