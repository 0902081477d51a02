import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedRoutes, undocumentedRoutes } from './support/routes.js';
import { startApi, type TestApi } from './support/api.js';
import { fetchContract, type Contract } from './support/contract.js';

type Doc = { paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>> };

describe('OpenAPI document', () => {
  let api: TestApi;
  let contract: Contract;
  let doc: Doc;

  beforeAll(async () => {
    api = await startApi();
    contract = await fetchContract(api.url);
    doc = contract.doc as unknown as Doc;
  });
  afterAll(() => api.close());

  it('when validated against the OpenAPI 3.1 schema, then it is valid', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(contract.doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('when the app is walked, then every route it serves is documented and every documented operation is served', () => {
    expect(undocumentedRoutes(api.app, doc)).toEqual([]);
    const served = new Set(servedRoutes(api.app).map(({ method, path }) => `${method} ${path}`));
    const documented = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method} ${path}`),
    );
    const uiMounts = documented.filter((operation) => !served.has(operation));
    // Only the documented UI mounts (whose inner routes are their own) are not plain routes.
    for (const operation of uiMounts) expect(operation).toMatch(/^get \/admin\/queues$/);
    expect(documented.length).toBeGreaterThanOrEqual(20);
  });

  it('when a route is added without documentation, then the check names it', async () => {
    const extra = await startApi();
    try {
      extra.app.get('/api/v1/undocumented/:id', (_req, res) => {
        res.json({});
      });
      expect(undocumentedRoutes(extra.app, doc)).toEqual(['GET /api/v1/undocumented/{id}']);
    } finally {
      await extra.close();
    }
  });

  it('when operations are listed, then each has a unique operationId, a summary, and documents its problem responses', () => {
    const ids = new Set<string>();
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        expect(ids.has(operation.operationId), `${method} ${path}`).toBe(false);
        ids.add(operation.operationId);
        expect(Object.keys(operation.responses), `${method} ${path}`).toContain('500');
        if (path.startsWith('/api/v1/')) expect(Object.keys(operation.responses), `${method} ${path}`).toContain('429');
      }
    }
  });

  it('when the operational and documentation routes answer, then their responses match the document', async () => {
    for (const [path, template] of [
      ['/healthz', '/healthz'],
      ['/readyz', '/readyz'],
      ['/api/openapi.json', '/api/openapi.json'],
      ['/docs', '/docs'],
      ['/docs/reference', '/docs/reference'],
      ['/docs/assets/docs.js', '/docs/assets/docs.js'],
    ] as const) {
      const { response } = await contract.call(api.url + path, 'GET', template);
      expect(response.status, path).toBe(200);
    }
    const docs = await api.fetch('/docs');
    const etag = docs.headers.get('etag') as string;
    await docs.text();
    expect(
      (await contract.call(`${api.url}/docs`, 'GET', '/docs', { headers: { 'If-None-Match': etag } })).response.status,
    ).toBe(304);
  });

  // Issue 11, "The API contract must be exact": what schemathesis (test/fuzz) found, pinned one by one.
  it('when numbers are read from a path or query, then the document gives them as integers with the bounds validation applies', async () => {
    const parameters = (path: string) =>
      (doc.paths[path]?.get as unknown as { parameters: { name: string; schema: Record<string, unknown> }[] })
        .parameters;
    const limit = parameters('/api/v1/products').find((parameter) => parameter.name === 'limit');
    expect(limit?.schema).toEqual({ type: 'integer', minimum: 1, maximum: 100, default: 20 });
    const id = parameters('/api/v1/products/{id}').find((parameter) => parameter.name === 'id');
    expect(id?.schema).toEqual({ type: 'integer', minimum: 1, maximum: 2_147_483_647 });
    // The bounds are the ones enforced: just inside passes, just outside is a 422.
    expect((await api.fetch('/api/v1/products?limit=100')).status).toBe(200);
    expect((await api.fetch('/api/v1/products?limit=0')).status).toBe(422);
    expect((await api.fetch('/api/v1/products/2147483648')).status).toBe(422);
    expect((await api.fetch('/api/v1/products/2147483647')).status).toBe(404);
  });

  it('when a request body field has a default, then the request form leaves it optional and shows the default', () => {
    const components = (contract.doc as unknown as { components: { schemas: Record<string, Record<string, unknown>> } })
      .components.schemas;
    const request = components.ReportRequestInput as { required: string[]; properties: Record<string, unknown> };
    expect(request.required).toEqual(['from', 'to']);
    expect(request.properties.groupBy).toMatchObject({ default: 'day' });
    const body = (doc.paths['/api/v1/admin/reports']?.post as unknown as { requestBody: unknown }).requestBody;
    expect(JSON.stringify(body)).toContain('#/components/schemas/ReportRequestInput');
  });

  it('when a known path gets a method it does not declare, then the answer is 405 with Allow before any authentication, the queue UI mount too', async () => {
    for (const [path, allow] of [
      ['/admin/queues', 'GET, HEAD'],
      ['/api/v1/products', 'GET, HEAD'],
    ] as const) {
      const response = await api.fetch(path, { method: 'PUT' });
      expect(response.status, path).toBe(405);
      expect(response.headers.get('allow'), path).toBe(allow);
    }
  });
});
