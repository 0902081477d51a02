import { request as httpRequest } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalog, createUser, startApi, unique, type TestApi, type TestCatalog } from './support/api.js';
import { fetchContract, type Contract } from './support/contract.js';

/** Letters only, so the text-search parser keeps it as one word. */
const uniqueWord = () =>
  Array.from({ length: 10 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');

describe('public catalog', () => {
  let api: TestApi;
  let contract: Contract;
  let catalog: TestCatalog;
  const word = uniqueWord();

  beforeAll(async () => {
    api = await startApi();
    contract = await fetchContract(api.url);
    catalog = await createCatalog(api.pool, 7, { word });
  });
  afterAll(() => api.close());

  const get = (path: string, template: string, init?: RequestInit) =>
    contract.call(api.url + path, 'GET', template, init);

  it('when categories are listed, then active ones appear with their count of active products', async () => {
    const hidden = await createCatalog(api.pool, 0);
    await api.pool.query('UPDATE categories SET active = false WHERE id = $1', [hidden.categoryId]);
    await api.pool.query('UPDATE products SET active = false WHERE id = $1', [catalog.productIds[6]]);
    // Direct SQL bypasses the api's invalidation; the admin write below invalidates the catalog.
    const admin = await createUser(api.pool, 'admin');
    await api.fetch(`/api/v1/admin/categories/${catalog.categoryId}`, {
      method: 'PATCH',
      headers: { ...admin.headers, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: `Renamed ${catalog.slug}` }),
    });

    const { response, body } = await get('/api/v1/categories', '/api/v1/categories');
    expect(response.status).toBe(200);
    const categories = (body as { data: { slug: string; productCount: number; name: string }[] }).data;
    expect(categories.find((c) => c.slug === catalog.slug)).toMatchObject({
      productCount: 6,
      name: `Renamed ${catalog.slug}`,
    });
    expect(categories.some((c) => c.slug === hidden.slug)).toBe(false);
  });

  it('when a category is paged with limit 2, then every active product comes once, in id order, and the last page has no cursor', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `category=${catalog.slug}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const { response, body } = await get(`/api/v1/products?${query}`, '/api/v1/products');
      expect(response.status).toBe(200);
      const page = body as { data: { id: number; categoryId: number }[]; nextCursor: string | null };
      expect(page.data.length).toBeLessThanOrEqual(2);
      for (const product of page.data) expect(product.categoryId).toBe(catalog.categoryId);
      seen.push(...page.data.map((product) => product.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor && pages < 10);
    expect(seen).toEqual(catalog.productIds.slice(0, 6));
    expect(pages).toBe(3);
  });

  it('when filtering by price range, then only products within it (inclusive) are listed', async () => {
    const { body } = await get(
      `/api/v1/products?category=${catalog.slug}&min_price=200&max_price=400`,
      '/api/v1/products',
    );
    expect((body as { data: { priceCents: number }[] }).data.map((p) => p.priceCents)).toEqual([200, 300, 400]);
  });

  it('when searching for a word in product names, then the matching active products are found', async () => {
    const { body } = await get(`/api/v1/products?q=${word}&limit=100`, '/api/v1/products');
    expect((body as { data: { id: number }[] }).data.map((p) => p.id)).toEqual(catalog.productIds.slice(0, 6));
    const { body: combined } = await get(
      `/api/v1/products?q=${word}&category=${catalog.slug}&max_price=100`,
      '/api/v1/products',
    );
    expect((combined as { data: { id: number }[] }).data.map((p) => p.id)).toEqual([catalog.productIds[0]]);
  });

  it('when the query is invalid, then 422 names every bad field', async () => {
    const cases: [string, string[]][] = [
      ['limit=0', ['query.limit']],
      ['limit=101', ['query.limit']],
      ['limit=ten', ['query.limit']],
      ['min_price=-1', ['query.min_price']],
      ['min_price=500&max_price=100', ['query.max_price']],
      ['colour=red', ['query.colour']],
      ['cursor=not*a*cursor', ['query.cursor']],
      ['cursor=eyJ4IjoxfQ', ['query.cursor']],
      ['category=Not_A_Slug', ['query.category']],
      [`category=${unique('missing')}`, ['query.category']],
      ['limit=1&limit=2', ['query.limit']],
    ];
    for (const [query, paths] of cases) {
      const { response, body } = await get(`/api/v1/products?${query}`, '/api/v1/products');
      expect(response.status, query).toBe(422);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      const problem = body as { type: string; errors: { path: string }[] };
      expect(problem.type).toBe('https://problems.node-stack.dev/validation');
      expect(
        problem.errors.map((error) => error.path),
        query,
      ).toEqual(paths);
    }
  });

  it('when a product is read, then the detail has its stock; inactive and unknown ids are 404, malformed ones 422', async () => {
    const id = catalog.productIds[0] as number;
    const { response, body } = await get(`/api/v1/products/${id}`, '/api/v1/products/{id}');
    expect(response.status).toBe(200);
    expect(body).toMatchObject({
      id,
      sku: catalog.skus[0],
      stock: 100,
      description: 'A test product',
      categoryId: catalog.categoryId,
    });

    expect((await get(`/api/v1/products/${catalog.productIds[6]}`, '/api/v1/products/{id}')).response.status).toBe(404);
    expect((await get('/api/v1/products/2147483000', '/api/v1/products/{id}')).response.status).toBe(404);
    for (const bad of ['abc', '0', '-1', '99999999999']) {
      expect((await get(`/api/v1/products/${bad}`, '/api/v1/products/{id}')).response.status, bad).toBe(422);
    }
  });

  it('when a public read is repeated with its ETag, then the answer is 304 without a body, and the headers allow edge caching', async () => {
    const first = await api.fetch(`/api/v1/products/${catalog.productIds[1]}`);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^W\/".+"$/);
    expect(first.headers.get('cache-control')).toBe('public, max-age=5');
    expect(first.headers.get('vary')).toContain('Accept-Encoding');
    await first.arrayBuffer();

    const { response } = await get(`/api/v1/products/${catalog.productIds[1]}`, '/api/v1/products/{id}', {
      headers: { 'If-None-Match': etag as string },
    });
    expect(response.status).toBe(304);
    expect(response.headers.get('etag')).toBe(etag);
    const other = await api.fetch(`/api/v1/products/${catalog.productIds[1]}`, {
      headers: { 'If-None-Match': 'W/"other"' },
    });
    expect(other.status).toBe(200);
  });

  it('when a client accepts gzip, then a large page comes gzipped from the cache with Content-Encoding, and identity otherwise', async () => {
    const big = await createCatalog(api.pool, 20);
    const path = `/api/v1/products?category=${big.slug}&limit=100`;
    const raw = (acceptEncoding?: string) =>
      new Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
        const url = new URL(api.url + path);
        const req = httpRequest(
          {
            host: url.hostname,
            port: url.port,
            path,
            headers: acceptEncoding ? { 'Accept-Encoding': acceptEncoding } : {},
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    const plain = await raw();
    const gzipped = await raw('gzip, deflate, br');
    const refused = await raw('gzip;q=0, identity');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.length).toBeGreaterThanOrEqual(1_024);
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gzipped.body).equals(plain.body)).toBe(true);
    expect(gzipped.headers.etag).toBe(plain.headers.etag);
    expect(refused.headers['content-encoding']).toBeUndefined();
  });

  it('when HEAD is sent for a public read, then the headers come without a body', async () => {
    const response = await api.fetch(`/api/v1/products/${catalog.productIds[0]}`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBeTruthy();
    expect(await response.text()).toBe('');
  });
});
