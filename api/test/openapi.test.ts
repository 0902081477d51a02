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
});
