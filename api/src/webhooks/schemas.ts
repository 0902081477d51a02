/** Request and response schemas of the webhook routes, named for the OpenAPI document. The request rules live in @stack/core. */
import { z } from 'zod';
import { createWebhookEndpointSchema, updateWebhookEndpointSchema, WEBHOOK_EVENT_TYPES } from '@stack/core';
import { cursorQuery, limitQuery, named, timestamp, uuidParams } from '../http/schemas.js';

export const deliveryIdParams = uuidParams;

const endpointFields = {
  id: z.number().int(),
  url: z.string(),
  eventTypes: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
  active: z.boolean(),
  createdAt: timestamp,
};

export const webhookEndpointCreateSchema = named('WebhookEndpointCreate', createWebhookEndpointSchema);
export const webhookEndpointPatchSchema = named('WebhookEndpointPatch', updateWebhookEndpointSchema);
export const webhookEndpointSchema = named('WebhookEndpoint', z.strictObject(endpointFields));
export const webhookEndpointCreatedSchema = named(
  'WebhookEndpointCreated',
  z.strictObject({
    ...endpointFields,
    secret: z.string().describe('Signing secret for Webhook-Signature. Shown only in this response.'),
  }),
);
export const webhookEndpointListSchema = named(
  'WebhookEndpointList',
  z.strictObject({ data: z.array(webhookEndpointSchema) }),
);

export const webhookDeliverySchema = named(
  'WebhookDelivery',
  z.strictObject({
    id: z.uuid().describe('Also the Webhook-Id header the receiver gets: stable across retries and re-drives.'),
    endpointId: z.number().int(),
    outboxId: z.number().int(),
    eventType: z.string(),
    status: z.enum(['pending', 'delivered', 'dead']),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: timestamp,
    deliveredAt: timestamp.nullable(),
  }),
);
export const webhookDeliveryListSchema = named(
  'WebhookDeliveryList',
  z.strictObject({
    data: z.array(webhookDeliverySchema),
    nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
  }),
);

export const deliveryListQuery = z.strictObject({
  status: z.enum(['dead']).default('dead').describe('Only dead letters are listed (deliveries out of attempts).'),
  cursor: cursorQuery.describe('`nextCursor` of the previous page.'),
  limit: limitQuery.describe('Page size, 1 to 100 (default 20).'),
});
