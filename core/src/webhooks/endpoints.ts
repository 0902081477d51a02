/**
 * Webhook endpoints: where an admin wants events sent. The signing secret is generated here and
 * shown once, in the creation response; listings never include it. It is stored sealed under the
 * keyring's current key (secret-keyring.ts); only the worker opens it, to sign a delivery.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Pool, Queryable } from '../db.js';
import type { WebhookSecretKeyring } from './secret-keyring.js';

/** What the api holds of the keyring: it seals new secrets and never opens one. */
export type WebhookSecretSealer = Pick<WebhookSecretKeyring, 'seal'>;

/** Events an endpoint may subscribe to (domain events recorded in the outbox). */
export const WEBHOOK_EVENT_TYPES = ['order.created'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const createWebhookEndpointSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(2_000),
  eventTypes: z
    .array(z.enum(WEBHOOK_EVENT_TYPES))
    .min(1)
    .max(WEBHOOK_EVENT_TYPES.length)
    .refine((types) => new Set(types).size === types.length, 'must not repeat an event type'),
});
export type CreateWebhookEndpoint = z.infer<typeof createWebhookEndpointSchema>;

export interface WebhookEndpoint {
  id: number;
  url: string;
  eventTypes: string[];
  active: boolean;
  createdAt: Date;
}

const ENDPOINT_COLUMNS = `id, url, event_types AS "eventTypes", active, created_at AS "createdAt"`;

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

export async function createWebhookEndpoint(
  db: Queryable,
  sealer: WebhookSecretSealer,
  input: CreateWebhookEndpoint,
): Promise<WebhookEndpoint & { secret: string }> {
  // The id first: it is the ciphertext's associated data, so the sealed secret opens only on this row.
  const { rows: ids } = await db.query<{ id: number }>(
    `SELECT nextval(pg_get_serial_sequence('webhook_endpoints', 'id'))::int AS id`,
  );
  const id = (ids[0] as { id: number }).id;
  const secret = generateWebhookSecret();
  const sealed = sealer.seal(secret, id);
  const { rows } = await db.query<WebhookEndpoint>(
    `INSERT INTO webhook_endpoints (id, url, secret_key_id, secret_ciphertext, event_types)
     OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5) RETURNING ${ENDPOINT_COLUMNS}`,
    [id, input.url, sealed.keyId, sealed.ciphertext, input.eventTypes],
  );
  return { ...(rows[0] as WebhookEndpoint), secret };
}

export async function listWebhookEndpoints(pool: Pool): Promise<WebhookEndpoint[]> {
  const { rows } = await pool.query<WebhookEndpoint>(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY id`);
  return rows;
}

/** Deletes an endpoint with its deliveries (dead letters included); false when it did not exist. */
export async function deleteWebhookEndpoint(db: Queryable, id: number): Promise<boolean> {
  const { rowCount } = await db.query(`DELETE FROM webhook_endpoints WHERE id = $1`, [id]);
  return (rowCount ?? 0) > 0;
}

export const updateWebhookEndpointSchema = z
  .strictObject({
    url: createWebhookEndpointSchema.shape.url.optional(),
    eventTypes: createWebhookEndpointSchema.shape.eventTypes.optional(),
    active: z.boolean().optional().describe('false pauses deliveries to the endpoint; true resumes them.'),
  })
  .refine((patch) => Object.keys(patch).length > 0, 'must change at least one field');
export type UpdateWebhookEndpoint = z.infer<typeof updateWebhookEndpointSchema>;

/** Changes the given fields (never the secret); undefined when there is no such endpoint. */
export async function updateWebhookEndpoint(
  db: Queryable,
  id: number,
  patch: UpdateWebhookEndpoint,
): Promise<WebhookEndpoint | undefined> {
  const { rows } = await db.query<WebhookEndpoint>(
    `UPDATE webhook_endpoints
        SET url = coalesce($2, url), event_types = coalesce($3, event_types), active = coalesce($4, active)
      WHERE id = $1
      RETURNING ${ENDPOINT_COLUMNS}`,
    [id, patch.url ?? null, patch.eventTypes ?? null, patch.active ?? null],
  );
  return rows[0];
}
