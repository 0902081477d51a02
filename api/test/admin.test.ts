import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalog, createUser, json, startApi, unique, type TestApi, type TestUser } from './support/api.js';
import { fetchContract, type Contract } from './support/contract.js';

describe('admin catalog and tokens', () => {
  let api: TestApi;
  let contract: Contract;
  let admin: TestUser;
  let customer: TestUser;

  beforeAll(async () => {
    api = await startApi();
    contract = await fetchContract(api.url);
    [admin, customer] = await Promise.all([createUser(api.pool, 'admin'), createUser(api.pool, 'customer')]);
  });
  afterAll(() => api.close());

  const send = (method: string, path: string, template: string, body?: unknown, user: TestUser | null = admin) =>
    contract.call(api.url + path, method, template, {
      ...(body === undefined ? { headers: user?.headers ?? {} } : json(body, user?.headers ?? {})),
    });

  it('when an admin creates, renames and deactivates a category, then the public list follows each step', async () => {
    const slug = unique('cat');
    const created = await send('POST', '/api/v1/admin/categories', '/api/v1/admin/categories', { slug, name: 'Kites' });
    expect(created.response.status).toBe(201);
    const category = created.body as { id: number; active: boolean };
    expect(category).toMatchObject({ slug, name: 'Kites', active: true });

    const publicNames = async () =>
      ((await (await api.fetch('/api/v1/categories')).json()) as { data: { slug: string; name: string }[] }).data
        .filter((c) => c.slug === slug)
        .map((c) => c.name);
    expect(await publicNames()).toEqual(['Kites']);

    const renamed = await send('PATCH', `/api/v1/admin/categories/${category.id}`, '/api/v1/admin/categories/{id}', {
      name: 'Stunt kites',
    });
    expect(renamed.response.status).toBe(200);
    expect(await publicNames()).toEqual(['Stunt kites']);

    const deactivated = await send(
      'DELETE',
      `/api/v1/admin/categories/${category.id}`,
      '/api/v1/admin/categories/{id}',
    );
    expect(deactivated.response.status).toBe(204);
    expect(await publicNames()).toEqual([]);
    const filtered = await api.fetch(`/api/v1/products?category=${slug}`);
    expect(filtered.status).toBe(422);
  });

  it('when a category slug is taken, deactivation meets active products, or the id is unknown, then 409 or 404', async () => {
    const catalog = await createCatalog(api.pool, 1);
    const taken = await send('POST', '/api/v1/admin/categories', '/api/v1/admin/categories', {
      slug: catalog.slug,
      name: 'Dup',
    });
    expect(taken.response.status).toBe(409);
    const busy = await send(
      'DELETE',
      `/api/v1/admin/categories/${catalog.categoryId}`,
      '/api/v1/admin/categories/{id}',
    );
    expect(busy.response.status).toBe(409);
    expect(busy.body).toMatchObject({ activeProducts: 1 });
    const patchBusy = await send(
      'PATCH',
      `/api/v1/admin/categories/${catalog.categoryId}`,
      '/api/v1/admin/categories/{id}',
      { active: false },
    );
    expect(patchBusy.response.status).toBe(409);
    const missing = await send('PATCH', '/api/v1/admin/categories/2147483000', '/api/v1/admin/categories/{id}', {
      name: 'x',
    });
    expect(missing.response.status).toBe(404);
    const empty = await send(
      'PATCH',
      `/api/v1/admin/categories/${catalog.categoryId}`,
      '/api/v1/admin/categories/{id}',
      {},
    );
    expect(empty.response.status).toBe(422);
    const badSlug = await send('POST', '/api/v1/admin/categories', '/api/v1/admin/categories', {
      slug: 'Bad Slug',
      name: 'x',
      extra: 1,
    });
    expect((badSlug.body as { errors: { path: string }[] }).errors.map((e) => e.path).sort()).toEqual([
      'body.extra',
      'body.slug',
    ]);
  });

  it('when an admin creates, updates and deactivates a product, then each change is visible on the next public read', async () => {
    const catalog = await createCatalog(api.pool, 0);
    const sku = unique('sku');
    const created = await send('POST', '/api/v1/admin/products', '/api/v1/admin/products', {
      sku,
      categoryId: catalog.categoryId,
      name: 'Box kite',
      priceCents: 2_500,
      stock: 4,
    });
    expect(created.response.status).toBe(201);
    const product = created.body as { id: number };
    expect(product).toMatchObject({ sku, active: true, description: '', stock: 4 });

    const detail = async () => {
      const response = await api.fetch(`/api/v1/products/${product.id}`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const list = async () =>
      (
        (await (await api.fetch(`/api/v1/products?category=${catalog.slug}`)).json()) as {
          data: { id: number; priceCents: number }[];
        }
      ).data;
    expect((await detail()).body).toMatchObject({ priceCents: 2_500, stock: 4 });
    expect(await list()).toEqual([expect.objectContaining({ id: product.id, priceCents: 2_500 })]);

    const updated = await send('PATCH', `/api/v1/admin/products/${product.id}`, '/api/v1/admin/products/{id}', {
      priceCents: 1_999,
      stock: 9,
    });
    expect(updated.response.status).toBe(200);
    expect((await detail()).body).toMatchObject({ priceCents: 1_999, stock: 9 });
    expect(await list()).toEqual([expect.objectContaining({ priceCents: 1_999 })]);

    const removed = await send('DELETE', `/api/v1/admin/products/${product.id}`, '/api/v1/admin/products/{id}');
    expect(removed.response.status).toBe(204);
    expect((await detail()).status).toBe(404);
    expect(await list()).toEqual([]);
    // Deactivating again is idempotent; reactivating brings it back.
    expect(
      (await send('DELETE', `/api/v1/admin/products/${product.id}`, '/api/v1/admin/products/{id}')).response.status,
    ).toBe(204);
    await send('PATCH', `/api/v1/admin/products/${product.id}`, '/api/v1/admin/products/{id}', { active: true });
    expect((await detail()).status).toBe(200);
  });

  it('when a product write conflicts or refers to an unusable category, then 409 or 422', async () => {
    const catalog = await createCatalog(api.pool, 1);
    const hidden = await createCatalog(api.pool, 0);
    await send('DELETE', `/api/v1/admin/categories/${hidden.categoryId}`, '/api/v1/admin/categories/{id}');
    const base = { sku: unique('sku'), categoryId: catalog.categoryId, name: 'Thing', priceCents: 1, stock: 1 };
    expect(
      (await send('POST', '/api/v1/admin/products', '/api/v1/admin/products', { ...base, sku: catalog.skus[0] }))
        .response.status,
    ).toBe(409);
    const inactive = await send('POST', '/api/v1/admin/products', '/api/v1/admin/products', {
      ...base,
      categoryId: hidden.categoryId,
    });
    expect(inactive.response.status).toBe(422);
    expect((inactive.body as { errors: { path: string }[] }).errors[0]?.path).toBe('body.categoryId');
    const moved = await send(
      'PATCH',
      `/api/v1/admin/products/${catalog.productIds[0]}`,
      '/api/v1/admin/products/{id}',
      {
        categoryId: hidden.categoryId,
      },
    );
    expect(moved.response.status).toBe(422);
    expect(
      (await send('PATCH', '/api/v1/admin/products/2147483000', '/api/v1/admin/products/{id}', { stock: 1 })).response
        .status,
    ).toBe(404);
    expect(
      (await send('DELETE', '/api/v1/admin/products/2147483000', '/api/v1/admin/products/{id}')).response.status,
    ).toBe(404);
    const invalid = await send('POST', '/api/v1/admin/products', '/api/v1/admin/products', {
      ...base,
      priceCents: -1,
      stock: 1.5,
    });
    expect((invalid.body as { errors: { path: string }[] }).errors.map((e) => e.path).sort()).toEqual([
      'body.priceCents',
      'body.stock',
    ]);
  });

  it('when an admin issues a token, then it works once shown, is listed without its secret, and stops working when revoked', async () => {
    const user = await createUser(api.pool, 'customer');
    const issued = await send('POST', `/api/v1/admin/users/${user.id}/tokens`, '/api/v1/admin/users/{id}/tokens', {
      name: 'mobile app',
      expiresInDays: 30,
    });
    expect(issued.response.status).toBe(201);
    const token = issued.body as { id: number; token: string; expiresAt: string };
    expect(token.token).toMatch(/^stk_[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(token.expiresAt) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const stored = await api.pool.query<{ token_hash: Buffer }>('SELECT token_hash FROM api_tokens WHERE id = $1', [
      token.id,
    ]);
    expect(stored.rows[0]?.token_hash.toString('utf8')).not.toContain(token.token);

    const asUser = { Authorization: `Bearer ${token.token}` };
    expect((await api.fetch('/api/v1/orders', { headers: asUser })).status).toBe(200);

    const listed = await send('GET', `/api/v1/admin/users/${user.id}/tokens`, '/api/v1/admin/users/{id}/tokens');
    const records = (listed.body as { data: Record<string, unknown>[] }).data;
    expect(records.map((r) => r.name)).toEqual(['mobile app', 'api-test']);
    expect(JSON.stringify(records)).not.toContain(token.token);

    const revoked = await send('DELETE', `/api/v1/admin/tokens/${token.id}`, '/api/v1/admin/tokens/{id}');
    expect(revoked.response.status).toBe(204);
    expect((await api.fetch('/api/v1/orders', { headers: asUser })).status).toBe(401);
    expect(
      (await send('DELETE', `/api/v1/admin/tokens/${token.id}`, '/api/v1/admin/tokens/{id}')).response.status,
    ).toBe(204);
    expect((await send('DELETE', '/api/v1/admin/tokens/2147483000', '/api/v1/admin/tokens/{id}')).response.status).toBe(
      404,
    );
    expect(
      (await send('POST', '/api/v1/admin/users/2147483000/tokens', '/api/v1/admin/users/{id}/tokens', {})).response
        .status,
    ).toBe(404);
    expect(
      (await send('GET', '/api/v1/admin/users/2147483000/tokens', '/api/v1/admin/users/{id}/tokens')).response.status,
    ).toBe(404);
  });

  it('when tokens are remembered in process, then revocation takes effect at once on this replica', async () => {
    const cached = await (await import('./support/api.js')).startApi({ settings: { authTokenCacheMs: 60_000 } });
    try {
      const user = await createUser(cached.pool, 'customer');
      expect((await cached.fetch('/api/v1/orders', { headers: user.headers })).status).toBe(200);
      const response = await cached.fetch(`/api/v1/admin/tokens/${user.tokenId}`, {
        method: 'DELETE',
        headers: admin.headers,
      });
      expect(response.status).toBe(204);
      expect((await cached.fetch('/api/v1/orders', { headers: user.headers })).status).toBe(401);
    } finally {
      await cached.close();
    }
  });

  it('when a customer or nobody calls an admin route, then 403 or 401 on every one of them', async () => {
    const routes: [string, string, string, unknown][] = [
      ['POST', '/api/v1/admin/categories', '/api/v1/admin/categories', { slug: 'x', name: 'x' }],
      ['PATCH', '/api/v1/admin/categories/1', '/api/v1/admin/categories/{id}', { name: 'x' }],
      ['DELETE', '/api/v1/admin/categories/1', '/api/v1/admin/categories/{id}', undefined],
      ['POST', '/api/v1/admin/products', '/api/v1/admin/products', { sku: 'x' }],
      ['PATCH', '/api/v1/admin/products/1', '/api/v1/admin/products/{id}', { stock: 1 }],
      ['DELETE', '/api/v1/admin/products/1', '/api/v1/admin/products/{id}', undefined],
      ['POST', '/api/v1/admin/users/1/tokens', '/api/v1/admin/users/{id}/tokens', {}],
      ['GET', '/api/v1/admin/users/1/tokens', '/api/v1/admin/users/{id}/tokens', undefined],
      ['DELETE', '/api/v1/admin/tokens/1', '/api/v1/admin/tokens/{id}', undefined],
    ];
    for (const [method, path, template, body] of routes) {
      expect((await send(method, path, template, body, customer)).response.status, `${method} ${path}`).toBe(403);
      expect((await send(method, path, template, body, null)).response.status, `${method} ${path}`).toBe(401);
    }
  });
});
