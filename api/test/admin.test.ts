import { describe, expect, it } from 'vitest';
import { createCatalog, createUser, startApi, unique, useApi } from './support/api.js';

describe('admin catalog and tokens', () => {
  const fixture = useApi();
  const { call } = fixture;

  it('when an admin creates, renames and deactivates a category, then the public list follows each step', async () => {
    const slug = unique('cat');
    const created = await call('POST', '/api/v1/admin/categories', { body: { slug, name: 'Kites' } });
    expect(created.response.status).toBe(201);
    const category = created.body as { id: number; active: boolean };
    expect(category).toMatchObject({ slug, name: 'Kites', active: true });

    const publicNames = async () =>
      (
        (await (await fixture.api.fetch('/api/v1/categories')).json()) as { data: { slug: string; name: string }[] }
      ).data
        .filter((c) => c.slug === slug)
        .map((c) => c.name);
    expect(await publicNames()).toEqual(['Kites']);

    const renamed = await call('PATCH', '/api/v1/admin/categories/{id}', {
      id: category.id,
      body: { name: 'Stunt kites' },
    });
    expect(renamed.response.status).toBe(200);
    expect(await publicNames()).toEqual(['Stunt kites']);

    const deactivated = await call('DELETE', '/api/v1/admin/categories/{id}', { id: category.id });
    expect(deactivated.response.status).toBe(204);
    expect(await publicNames()).toEqual([]);
    const filtered = await fixture.api.fetch(`/api/v1/products?category=${slug}`);
    expect(filtered.status).toBe(422);
  });

  it('when a category slug is taken, deactivation meets active products, or the id is unknown, then 409 or 404', async () => {
    const catalog = await createCatalog(fixture.api.pool, 1);
    const taken = await call('POST', '/api/v1/admin/categories', { body: { slug: catalog.slug, name: 'Dup' } });
    expect(taken.response.status).toBe(409);
    const busy = await call('DELETE', '/api/v1/admin/categories/{id}', { id: catalog.categoryId });
    expect(busy.response.status).toBe(409);
    expect(busy.body).toMatchObject({ activeProducts: 1 });
    const patchBusy = await call('PATCH', '/api/v1/admin/categories/{id}', {
      id: catalog.categoryId,
      body: { active: false },
    });
    expect(patchBusy.response.status).toBe(409);
    const missing = await call('PATCH', '/api/v1/admin/categories/{id}', { id: 2147483000, body: { name: 'x' } });
    expect(missing.response.status).toBe(404);
    const empty = await call('PATCH', '/api/v1/admin/categories/{id}', { id: catalog.categoryId, body: {} });
    expect(empty.response.status).toBe(422);
    const badSlug = await call('POST', '/api/v1/admin/categories', { body: { slug: 'Bad Slug', name: 'x', extra: 1 } });
    expect((badSlug.body as { errors: { path: string }[] }).errors.map((e) => e.path).sort()).toEqual([
      'body.extra',
      'body.slug',
    ]);
  });

  it('when an admin creates, updates and deactivates a product, then each change is visible on the next public read', async () => {
    const catalog = await createCatalog(fixture.api.pool, 0);
    const sku = unique('sku');
    const created = await call('POST', '/api/v1/admin/products', {
      body: { sku, categoryId: catalog.categoryId, name: 'Box kite', priceCents: 2_500, stock: 4 },
    });
    expect(created.response.status).toBe(201);
    const product = created.body as { id: number };
    expect(product).toMatchObject({ sku, active: true, description: '', stock: 4 });

    const detail = async () => {
      const response = await fixture.api.fetch(`/api/v1/products/${product.id}`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const list = async () =>
      (
        (await (await fixture.api.fetch(`/api/v1/products?category=${catalog.slug}`)).json()) as {
          data: { id: number; priceCents: number }[];
        }
      ).data;
    expect((await detail()).body).toMatchObject({ priceCents: 2_500, stock: 4 });
    expect(await list()).toEqual([expect.objectContaining({ id: product.id, priceCents: 2_500 })]);

    const updated = await call('PATCH', '/api/v1/admin/products/{id}', {
      id: product.id,
      body: { priceCents: 1_999, stock: 9 },
    });
    expect(updated.response.status).toBe(200);
    expect((await detail()).body).toMatchObject({ priceCents: 1_999, stock: 9 });
    expect(await list()).toEqual([expect.objectContaining({ priceCents: 1_999 })]);

    const removed = await call('DELETE', '/api/v1/admin/products/{id}', { id: product.id });
    expect(removed.response.status).toBe(204);
    expect((await detail()).status).toBe(404);
    expect(await list()).toEqual([]);
    // Deactivating again is idempotent; reactivating brings it back.
    expect((await call('DELETE', '/api/v1/admin/products/{id}', { id: product.id })).response.status).toBe(204);
    await call('PATCH', '/api/v1/admin/products/{id}', { id: product.id, body: { active: true } });
    expect((await detail()).status).toBe(200);
  });

  it('when a product write conflicts or refers to an unusable category, then 409 or 422', async () => {
    const catalog = await createCatalog(fixture.api.pool, 1);
    const hidden = await createCatalog(fixture.api.pool, 0);
    await call('DELETE', '/api/v1/admin/categories/{id}', { id: hidden.categoryId });
    const base = { sku: unique('sku'), categoryId: catalog.categoryId, name: 'Thing', priceCents: 1, stock: 1 };
    expect(
      (await call('POST', '/api/v1/admin/products', { body: { ...base, sku: catalog.skus[0] } })).response.status,
    ).toBe(409);
    const inactive = await call('POST', '/api/v1/admin/products', { body: { ...base, categoryId: hidden.categoryId } });
    expect(inactive.response.status).toBe(422);
    expect((inactive.body as { errors: { path: string }[] }).errors[0]?.path).toBe('body.categoryId');
    const moved = await call('PATCH', '/api/v1/admin/products/{id}', {
      id: catalog.productIds[0],
      body: { categoryId: hidden.categoryId },
    });
    expect(moved.response.status).toBe(422);
    expect(
      (await call('PATCH', '/api/v1/admin/products/{id}', { id: 2147483000, body: { stock: 1 } })).response.status,
    ).toBe(404);
    expect((await call('DELETE', '/api/v1/admin/products/{id}', { id: 2147483000 })).response.status).toBe(404);
    const invalid = await call('POST', '/api/v1/admin/products', { body: { ...base, priceCents: -1, stock: 1.5 } });
    expect((invalid.body as { errors: { path: string }[] }).errors.map((e) => e.path).sort()).toEqual([
      'body.priceCents',
      'body.stock',
    ]);
  });

  it('when an admin issues a token, then it works once shown, is listed without its secret, and stops working when revoked', async () => {
    const user = await createUser(fixture.api.pool, 'customer');
    const issued = await call('POST', '/api/v1/admin/users/{id}/tokens', {
      id: user.id,
      body: { name: 'mobile app', expiresInDays: 30 },
    });
    expect(issued.response.status).toBe(201);
    const token = issued.body as { id: number; token: string; expiresAt: string };
    expect(token.token).toMatch(/^stk_[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(token.expiresAt) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const stored = await fixture.api.pool.query<{ token_hash: Buffer }>(
      'SELECT token_hash FROM api_tokens WHERE id = $1',
      [token.id],
    );
    expect(stored.rows[0]?.token_hash.toString('utf8')).not.toContain(token.token);

    const asUser = { Authorization: `Bearer ${token.token}` };
    expect((await fixture.api.fetch('/api/v1/orders', { headers: asUser })).status).toBe(200);

    const listed = await call('GET', '/api/v1/admin/users/{id}/tokens', { id: user.id });
    const records = (listed.body as { data: Record<string, unknown>[] }).data;
    expect(records.map((r) => r.name)).toEqual(['mobile app', 'api-test']);
    expect(JSON.stringify(records)).not.toContain(token.token);

    const revoked = await call('DELETE', '/api/v1/admin/tokens/{id}', { id: token.id });
    expect(revoked.response.status).toBe(204);
    expect((await fixture.api.fetch('/api/v1/orders', { headers: asUser })).status).toBe(401);
    expect((await call('DELETE', '/api/v1/admin/tokens/{id}', { id: token.id })).response.status).toBe(204);
    expect((await call('DELETE', '/api/v1/admin/tokens/{id}', { id: 2147483000 })).response.status).toBe(404);
    expect((await call('POST', '/api/v1/admin/users/{id}/tokens', { id: 2147483000, body: {} })).response.status).toBe(
      404,
    );
    expect((await call('GET', '/api/v1/admin/users/{id}/tokens', { id: 2147483000 })).response.status).toBe(404);
  });

  it('when tokens are remembered in process, then revocation takes effect at once on this replica', async () => {
    const cached = await startApi({ env: { AUTH_TOKEN_CACHE_MS: '60000' } });
    try {
      const user = await createUser(cached.pool, 'customer');
      expect((await cached.fetch('/api/v1/orders', { headers: user.headers })).status).toBe(200);
      const response = await cached.fetch(`/api/v1/admin/tokens/${user.tokenId}`, {
        method: 'DELETE',
        headers: fixture.admin.headers,
      });
      expect(response.status).toBe(204);
      expect((await cached.fetch('/api/v1/orders', { headers: user.headers })).status).toBe(401);
    } finally {
      await cached.close();
    }
  });

  it('when a customer or nobody calls an admin route, then 403 or 401 on every one of them', async () => {
    const routes: [string, string, unknown][] = [
      ['POST', '/api/v1/admin/categories', { slug: 'x', name: 'x' }],
      ['PATCH', '/api/v1/admin/categories/{id}', { name: 'x' }],
      ['DELETE', '/api/v1/admin/categories/{id}', undefined],
      ['POST', '/api/v1/admin/products', { sku: 'x' }],
      ['PATCH', '/api/v1/admin/products/{id}', { stock: 1 }],
      ['DELETE', '/api/v1/admin/products/{id}', undefined],
      ['POST', '/api/v1/admin/users/{id}/tokens', {}],
      ['GET', '/api/v1/admin/users/{id}/tokens', undefined],
      ['DELETE', '/api/v1/admin/tokens/{id}', undefined],
    ];
    for (const [method, template, body] of routes) {
      for (const [as, status] of [
        [fixture.customer, 403],
        [null, 401],
      ] as const) {
        expect((await call(method, template, { id: 1, body, as })).response.status, `${method} ${template}`).toBe(
          status,
        );
      }
    }
  });
});
