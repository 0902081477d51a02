/**
 * The audit trail (issue 11, finding 4): each admin action that takes effect leaves one row naming the admin, their
 * token, the action, its target and the request id; an action that changed nothing leaves none; only admins read
 * the trail, page by page.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCatalog, unique, useApi, type TestUser } from './support/api.js';

interface AuditRow {
  actorUserId: number;
  actorTokenId: number;
  requestId: string;
  action: string;
  targetType: string;
  targetId: string;
  details: Record<string, unknown>;
}

describe('audit trail', () => {
  // Loopback webhook targets only (the allow-list admits them): the stack's worker never reaches anything else.
  const fixture = useApi({ env: { WEBHOOK_ALLOWED_PRIVATE_CIDRS: '127.0.0.1/32' } });

  /** The admin, sending a request id of the test's own, as nginx would pass it. */
  const adminWith = (requestId: string): TestUser => ({
    ...fixture.admin,
    headers: { ...fixture.admin.headers, 'X-Request-Id': requestId },
  });

  /** Performs one documented call as the admin and returns the audit rows of exactly that request. */
  async function audit(
    method: string,
    template: string,
    options: { id?: number; body?: unknown; status: number },
  ): Promise<{ rows: AuditRow[]; body: unknown }> {
    const requestId = `audit-${randomUUID()}`;
    const { response, body } = await fixture.call(method, template, { ...options, as: adminWith(requestId) });
    expect(response.status, `${method} ${template}: ${JSON.stringify(body)}`).toBe(options.status);
    expect(response.headers.get('x-request-id')).toBe(requestId);
    const { rows } = await fixture.api.pool.query<AuditRow>(
      `SELECT actor_user_id AS "actorUserId", actor_token_id AS "actorTokenId", request_id AS "requestId", action,
              target_type AS "targetType", target_id AS "targetId", details
         FROM audit_log WHERE request_id = $1`,
      [requestId],
    );
    return { rows, body };
  }

  /** A documented call to a concrete `path` (a query string, a uuid id), checked against the operation of `template`. */
  const callAt = (method: string, template: string, path: string, as: TestUser | null = fixture.admin) =>
    fixture.contract.call(fixture.api.url + path, method, template, { headers: as?.headers ?? {} });

  const byAdmin = () => ({ actorUserId: fixture.admin.id, actorTokenId: fixture.admin.tokenId });

  it('when an admin issues and revokes a token, then each leaves one row naming the admin, the token and the request', async () => {
    const issued = await audit('POST', '/api/v1/admin/users/{id}/tokens', {
      id: fixture.customer.id,
      body: { name: 'audited' },
      status: 201,
    });
    const tokenId = (issued.body as { id: number }).id;
    expect(issued.rows).toEqual([
      {
        ...byAdmin(),
        requestId: expect.stringMatching(/^audit-/),
        action: 'token.issue',
        targetType: 'api_token',
        targetId: String(tokenId),
        details: { userId: fixture.customer.id, name: 'audited' },
      },
    ]);
    // Never the token itself.
    expect(JSON.stringify(issued.rows)).not.toContain((issued.body as { token: string }).token);

    const revoked = await audit('DELETE', '/api/v1/admin/tokens/{id}', { id: tokenId, status: 204 });
    expect(revoked.rows).toMatchObject([{ ...byAdmin(), action: 'token.revoke', targetId: String(tokenId) }]);
    const unknown = await audit('DELETE', '/api/v1/admin/tokens/{id}', { id: 2_147_483_000, status: 404 });
    expect(unknown.rows).toEqual([]);
  });

  it('when an admin creates, changes and deletes a webhook endpoint and re-drives a dead letter, then each leaves its row', async () => {
    const created = await audit('POST', '/api/v1/admin/webhooks', {
      body: { url: 'http://127.0.0.1:9/audit', eventTypes: ['order.created'] },
      status: 201,
    });
    const endpoint = created.body as { id: number; secret: string };
    expect(created.rows).toMatchObject([
      {
        ...byAdmin(),
        action: 'webhook_endpoint.create',
        targetType: 'webhook_endpoint',
        targetId: String(endpoint.id),
      },
    ]);
    expect(JSON.stringify(created.rows)).not.toContain(endpoint.secret);

    const paused = await audit('PATCH', '/api/v1/admin/webhooks/{id}', {
      id: endpoint.id,
      body: { active: false },
      status: 200,
    });
    expect(paused.body).toMatchObject({ id: endpoint.id, active: false });
    expect(paused.rows).toMatchObject([{ action: 'webhook_endpoint.update', details: { fields: ['active'] } }]);

    // A dead letter of the paused endpoint, on an event already published (the relay leaves it alone).
    const { rows } = await fixture.api.pool.query<{ id: string }>(
      `WITH event AS (
         INSERT INTO outbox (event_type, payload, published_at) VALUES ('order.created', '{}', now()) RETURNING id)
       INSERT INTO webhook_deliveries (endpoint_id, outbox_id, event_type, status, attempts)
       SELECT $1, id, 'order.created', 'dead', 10 FROM event RETURNING id`,
      [endpoint.id],
    );
    const deliveryId = (rows[0] as { id: string }).id;
    const redrive = await callAt(
      'POST',
      '/api/v1/admin/webhook-deliveries/{id}/redrive',
      `/api/v1/admin/webhook-deliveries/${deliveryId}/redrive`,
      adminWith(`audit-${randomUUID()}`),
    );
    expect(redrive.response.status).toBe(202);
    const redriven = await fixture.api.pool.query<AuditRow>(
      `SELECT action, target_id AS "targetId", request_id AS "requestId" FROM audit_log WHERE request_id = $1`,
      [redrive.response.headers.get('x-request-id')],
    );
    expect(redriven.rows).toMatchObject([{ action: 'webhook_delivery.redrive', targetId: deliveryId }]);

    const deleted = await audit('DELETE', '/api/v1/admin/webhooks/{id}', { id: endpoint.id, status: 204 });
    expect(deleted.rows).toMatchObject([{ action: 'webhook_endpoint.delete', targetId: String(endpoint.id) }]);
    const again = await audit('DELETE', '/api/v1/admin/webhooks/{id}', { id: endpoint.id, status: 404 });
    expect(again.rows).toEqual([]);
  });

  it('when an admin writes the catalog, then every write that took effect leaves a row with the fields it changed', async () => {
    const slug = unique('audit');
    const category = await audit('POST', '/api/v1/admin/categories', { body: { slug, name: 'Audited' }, status: 201 });
    const categoryId = (category.body as { id: number }).id;
    expect(category.rows).toMatchObject([
      { action: 'category.create', targetType: 'category', targetId: String(categoryId) },
    ]);
    const renamed = await audit('PATCH', '/api/v1/admin/categories/{id}', {
      id: categoryId,
      body: { name: 'Audited 2' },
      status: 200,
    });
    expect(renamed.rows).toMatchObject([{ action: 'category.update', details: { fields: ['name'] } }]);
    const taken = await audit('POST', '/api/v1/admin/categories', { body: { slug, name: 'Dup' }, status: 409 });
    expect(taken.rows).toEqual([]);

    const product = await audit('POST', '/api/v1/admin/products', {
      body: { sku: `${slug}-p`, categoryId, name: 'Audited product', priceCents: 500, stock: 3 },
      status: 201,
    });
    const productId = (product.body as { id: number }).id;
    expect(product.rows).toMatchObject([
      { action: 'product.create', targetType: 'product', targetId: String(productId) },
    ]);
    const repriced = await audit('PATCH', '/api/v1/admin/products/{id}', {
      id: productId,
      body: { priceCents: 600, stock: 4 },
      status: 200,
    });
    expect(repriced.rows).toMatchObject([{ action: 'product.update', details: { fields: ['priceCents', 'stock'] } }]);
    const hidden = await audit('DELETE', '/api/v1/admin/products/{id}', { id: productId, status: 204 });
    expect(hidden.rows).toMatchObject([{ action: 'product.deactivate', targetId: String(productId) }]);
    const closed = await audit('DELETE', '/api/v1/admin/categories/{id}', { id: categoryId, status: 204 });
    expect(closed.rows).toMatchObject([{ ...byAdmin(), action: 'category.deactivate', targetId: String(categoryId) }]);
  });

  it('when an admin starts an import and marks an order paid, then each leaves its row; marking it again leaves none', async () => {
    const catalog = await createCatalog(fixture.api.pool, 1);
    const requestId = `audit-${randomUUID()}`;
    const csv = `sku,category,name,price_cents\n${catalog.slug}-imported,${catalog.slug},Imported,100\n`;
    const upload = await fixture.api.fetch('/api/v1/admin/imports', {
      method: 'POST',
      headers: { ...fixture.admin.headers, 'Content-Type': 'text/csv', 'X-Request-Id': requestId },
      body: csv,
    });
    expect(upload.status).toBe(202);
    const importId = ((await upload.json()) as { id: string }).id;
    const { rows: imported } = await fixture.api.pool.query<AuditRow>(
      `SELECT action, target_id AS "targetId", details FROM audit_log WHERE request_id = $1`,
      [requestId],
    );
    expect(imported).toEqual([
      { action: 'import.start', targetId: importId, details: { format: 'csv', fileBytes: Buffer.byteLength(csv) } },
    ]);

    const order = await fixture.api.fetch('/api/v1/orders', {
      method: 'POST',
      headers: { ...fixture.customer.headers, 'Content-Type': 'application/json', 'Idempotency-Key': unique('o') },
      body: JSON.stringify({ items: [{ productId: catalog.productIds[0], quantity: 1 }] }),
    });
    expect(order.status).toBe(201);
    const orderId = ((await order.json()) as { id: number }).id;
    const paid = await audit('POST', '/api/v1/admin/orders/{id}/pay', { id: orderId, status: 200 });
    expect(paid.rows).toMatchObject([
      { ...byAdmin(), action: 'order.mark_paid', targetType: 'order', targetId: String(orderId) },
    ]);
    const repeated = await audit('POST', '/api/v1/admin/orders/{id}/pay', { id: orderId, status: 200 });
    expect(repeated.rows).toEqual([]);
  });

  it('when the trail is read, then admins get it newest first page by page, a customer or nobody cannot, and nobody edits it', async () => {
    for (let i = 0; i < 3; i += 1) {
      await audit('POST', '/api/v1/admin/categories', { body: { slug: unique('page'), name: 'Paged' }, status: 201 });
    }
    const template = '/api/v1/admin/audit-log';
    const first = await callAt('GET', template, `${template}?limit=2`);
    expect(first.response.status).toBe(200);
    const page = first.body as { data: (AuditRow & { id: number; occurredAt: string })[]; nextCursor: string };
    expect(page.data).toHaveLength(2);
    expect(page.data[0]?.id).toBeGreaterThan(page.data[1]?.id ?? Infinity);
    expect(page.data[0]).toMatchObject({ action: 'category.create', ...byAdmin() });
    expect(page.nextCursor).toBe(String(page.data[1]?.id));
    const second = await callAt('GET', template, `${template}?limit=2&cursor=${page.nextCursor}`);
    const next = second.body as { data: { id: number }[] };
    expect(next.data[0]?.id).toBeLessThan(page.data[1]?.id ?? 0);

    const asCustomer = await fixture.call('GET', '/api/v1/admin/audit-log', { as: fixture.customer });
    expect(asCustomer.response.status).toBe(403);
    const anonymous = await fixture.call('GET', '/api/v1/admin/audit-log', { as: null });
    expect(anonymous.response.status).toBe(401);
    const badCursor = await callAt('GET', template, `${template}?cursor=abc`);
    expect(badCursor.response.status).toBe(422);

    // The application's role (app_rw, db/init/008_app_role.sql) adds and reads rows but cannot rewrite history.
    const { rows } = await fixture.api.pool.query<Record<string, boolean>>(
      `SELECT ${['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']
        .map((privilege) => `has_table_privilege('app_rw', 'audit_log', '${privilege}') AS "${privilege}"`)
        .join(', ')}`,
    );
    expect(rows[0]).toEqual({ SELECT: true, INSERT: true, UPDATE: false, DELETE: false, TRUNCATE: false });
  });
});
