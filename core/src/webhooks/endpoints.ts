/**
 * Webhook endpoints: where an admin wants events sent. The signing secret is generated here and
 * shown once, in the creation response; listings never include it.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Pool } from '../db.js';

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
  pool: Pool,
  input: CreateWebhookEndpoint,
): Promise<WebhookEndpoint & { secret: string }> {
  const secret = generateWebhookSecret();
  const { rows } = await pool.query<WebhookEndpoint>(
    `INSERT INTO webhook_endpoints (url, secret, event_types) VALUES ($1, $2, $3) RETURNING ${ENDPOINT_COLUMNS}`,
    [input.url, secret, input.eventTypes],
  );
  return { ...(rows[0] as WebhookEndpoint), secret };
}

export async function listWebhookEndpoints(pool: Pool): Promise<WebhookEndpoint[]> {
  const { rows } = await pool.query<WebhookEndpoint>(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY id`);
  return rows;
}

/** Deletes an endpoint with its deliveries (dead letters included); false when it did not exist. */
export async function deleteWebhookEndpoint(pool: Pool, id: number): Promise<boolean> {
  const { rowCount } = await pool.query(`DELETE FROM webhook_endpoints WHERE id = $1`, [id]);
  return (rowCount ?? 0) > 0;
}
