/**
 * Webhook endpoints and dead letters over HTTP. Deliveries themselves are the worker's (the signature
 * scheme is documented in core/src/webhooks/signature.ts and worker/README.md).
 */
import type { BlockList } from 'node:net';
import {
  checkWebhookUrl,
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  InvalidCursorError,
  listDeadDeliveries,
  listWebhookEndpoints,
  redriveDelivery,
  updateWebhookEndpoint,
  type AuditEntry,
  type Pool,
  type WebhookSecretSealer,
} from '@stack/core';
import { auditedFor } from '../audit/actor.js';
import { AppError, foundOr404 } from '../http/problem.js';
import { routeGroup, type ApiModule, type ApiRoute } from '../http/route.js';
import { fieldErrors, invalidCursor } from '../http/validate.js';
import { idParams } from '../http/schemas.js';
import {
  deliveryIdParams,
  deliveryListQuery,
  webhookDeliveryListSchema,
  webhookDeliverySchema,
  webhookEndpointCreatedSchema,
  webhookEndpointCreateSchema,
  webhookEndpointListSchema,
  webhookEndpointPatchSchema,
  webhookEndpointSchema,
} from './schemas.js';

const route = routeGroup({ tag: 'Jobs', access: ['admin'] });

/** The audit entry of an admin action on webhook endpoint `id`. */
const onEndpoint = (
  change: 'create' | 'update' | 'delete',
  id: number,
  details: Record<string, unknown> = {},
): AuditEntry => ({ action: `webhook_endpoint.${change}`, targetType: 'webhook_endpoint', targetId: id, details });

const redriveEntry = (deliveryId: string): AuditEntry => ({
  action: 'webhook_delivery.redrive',
  targetType: 'webhook_delivery',
  targetId: deliveryId,
});

export interface WebhooksDeps {
  pool: Pool;
  /** WEBHOOK_ALLOWED_PRIVATE_CIDRS, parsed: private receivers that may be registered. */
  allowedPrivateAddresses?: BlockList;
  /** Seals each new endpoint's signing secret under WEBHOOK_SECRET_KEY (the api never opens one). */
  secretSealer: WebhookSecretSealer;
}

export function webhooksModule(deps: WebhooksDeps): ApiModule {
  return { prefix: '/api/v1', routes: [...endpointRoutes(deps), ...deadLetterRoutes(deps)] };
}

function endpointRoutes(deps: WebhooksDeps): ApiRoute[] {
  const { pool } = deps;
  const checkUrl = (url: string) => {
    const verdict = checkWebhookUrl(url, deps.allowedPrivateAddresses);
    if (!verdict.allowed) {
      throw fieldErrors([{ path: 'body.url', message: `must reach a public address (${verdict.reason})` }]);
    }
  };
  return [
    route({
      method: 'post',
      path: '/admin/webhooks',
      operationId: 'createWebhookEndpoint',
      rulesBeyondSchema: '`url` must reach a public address, and an event type may appear once.',
      summary: 'Register a webhook endpoint',
      description:
        'Events of the given types are POSTed to `url`, signed with the returned secret: header ' +
        '`Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, plus `Webhook-Id` ' +
        '(stable per delivery: dedupe on it) and `Webhook-Event`. Failed attempts are retried with exponential ' +
        'backoff and jitter up to a bound, then dead-lettered. The URL must reach a public address: loopback, ' +
        "private, link-local, ULA, CGNAT and reserved addresses (in any spelling) and the stack's own service " +
        'names are refused with 422, here and again by the worker when it connects.',
      body: webhookEndpointCreateSchema,
      bodyLimit: '4kb',
      responses: {
        201: {
          description: 'Registered. The secret is shown only here.',
          schema: webhookEndpointCreatedSchema,
          headers: { Location: { description: 'Where the endpoint is listed.', schema: { type: 'string' } } },
        },
      },
      handler: async ({ body }, req, res) => {
        checkUrl(body.url);
        const endpoint = await auditedFor(pool, req)(
          (tx) => createWebhookEndpoint(tx, deps.secretSealer, body),
          (created) => onEndpoint('create', created.id, { url: created.url, eventTypes: created.eventTypes }),
        );
        res.status(201).location('/api/v1/admin/webhooks').json(endpoint);
      },
    }),
    route({
      method: 'get',
      path: '/admin/webhooks',
      operationId: 'listWebhookEndpoints',
      summary: 'List webhook endpoints (without secrets)',
      responses: { 200: { description: 'Every endpoint.', schema: webhookEndpointListSchema } },
      handler: async (_input, _req, res) => {
        res.json({ data: await listWebhookEndpoints(pool) });
      },
    }),
    route({
      method: 'delete',
      path: '/admin/webhooks/:id',
      operationId: 'deleteWebhookEndpoint',
      summary: 'Delete a webhook endpoint and its deliveries',
      params: idParams,
      responses: { 204: { description: 'Deleted.' }, 404: { description: 'No such endpoint.' } },
      handler: async ({ params }, req, res) => {
        const deleted = await auditedFor(pool, req)(
          (tx) => deleteWebhookEndpoint(tx, params.id),
          (found) => (found ? onEndpoint('delete', params.id) : undefined),
        );
        if (!deleted) throw new AppError('notFound', `No webhook endpoint ${params.id}.`);
        res.status(204).end();
      },
    }),
    route({
      method: 'patch',
      path: '/admin/webhooks/:id',
      operationId: 'updateWebhookEndpoint',
      rulesBeyondSchema: '`url` must reach a public address, and an event type may appear once.',
      summary: 'Change a webhook endpoint',
      description:
        'Change its URL (checked as at registration), its event types, or pause and resume it with `active`. ' +
        'The secret stays the same.',
      params: idParams,
      body: webhookEndpointPatchSchema,
      responses: {
        200: { description: 'Changed.', schema: webhookEndpointSchema },
        404: { description: 'No such endpoint.' },
      },
      handler: async ({ params, body }, req, res) => {
        if (body.url !== undefined) checkUrl(body.url);
        const endpoint = await auditedFor(pool, req)(
          (tx) => updateWebhookEndpoint(tx, params.id, body),
          (changed) => changed && onEndpoint('update', params.id, { fields: Object.keys(body).sort() }),
        );
        res.json(foundOr404(endpoint, `No webhook endpoint ${params.id}.`));
      },
    }),
  ];
}

function deadLetterRoutes({ pool }: WebhooksDeps): ApiRoute[] {
  return [
    route({
      method: 'get',
      path: '/admin/webhook-deliveries',
      operationId: 'listDeadWebhookDeliveries',
      rulesBeyondSchema: '`cursor` must be one this list handed out.',
      summary: 'List dead-lettered webhook deliveries',
      description: 'Deliveries that used up their attempts, newest first. Re-drive one with POST .../{id}/redrive.',
      query: deliveryListQuery,
      responses: { 200: { description: 'One page of dead letters.', schema: webhookDeliveryListSchema } },
      handler: async ({ query }, _req, res) => {
        let page;
        try {
          page = await listDeadDeliveries(pool, { limit: query.limit, cursor: query.cursor });
        } catch (error) {
          if (error instanceof InvalidCursorError) {
            throw invalidCursor();
          }
          throw error;
        }
        res.json(page);
      },
    }),
    route({
      method: 'post',
      path: '/admin/webhook-deliveries/:id/redrive',
      operationId: 'redriveWebhookDelivery',
      summary: 'Re-drive a dead-lettered delivery',
      description:
        'Puts the delivery back to pending and gives it a new round of attempts (same delivery id, so receivers ' +
        'can still dedupe). Works while the queue Redis is down: the request goes through the outbox.',
      params: deliveryIdParams,
      responses: {
        202: { description: 'Queued for delivery again.', schema: webhookDeliverySchema },
        404: { description: 'No such delivery.' },
        409: { description: 'The delivery is not dead (pending or delivered).' },
      },
      handler: async ({ params }, req, res) => {
        const result = await auditedFor(pool, req)(
          (tx) => redriveDelivery(tx, params.id),
          (redrive) => (redrive.outcome === 'redriven' ? redriveEntry(params.id) : undefined),
        );
        if (result.outcome !== 'redriven') {
          throw result.outcome === 'not-found'
            ? new AppError('notFound', `No webhook delivery ${params.id}.`)
            : new AppError('conflict', 'Only a dead delivery can be re-driven.');
        }
        res.status(202).json(result.delivery);
      },
    }),
  ];
}
