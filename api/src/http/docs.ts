/**
 * The OpenAPI document and the docs page. Both are built once, on first request, from the modules
 * the app mounts, and served as prepared bytes (gzip and ETag computed once).
 */
import { prepareBody, prepareJson, type CachedBody } from '@stack/core';
import { z } from 'zod';
import { renderDocsPage } from './docs-page.js';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi.js';
import { routeGroup, type ApiModule } from './route.js';
import { NOT_MODIFIED, sendPreparedBody } from './send-body.js';

const route = routeGroup({ tag: 'Documentation', access: 'public' });

const DOCS_CACHE_CONTROL = 'public, max-age=300';

export const API_INFO = {
  title: 'Catalog and orders API',
  version: '1.0.0',
  description:
    'Public catalog reads (cached), customer orders with idempotency keys, admin catalog and token management.',
};

export function docsModule(allModules: () => readonly ApiModule[]): ApiModule & { document: () => OpenApiDocument } {
  let document: OpenApiDocument | undefined;
  let json: Promise<CachedBody> | undefined;
  let html: Promise<CachedBody> | undefined;
  const getDocument = () => (document ??= buildOpenApiDocument(allModules(), API_INFO));

  const routes = [
    route({
      method: 'get',
      path: '/api/openapi.json',
      operationId: 'getOpenApiDocument',
      summary: 'This document (OpenAPI 3.1)',
      responses: {
        200: { description: 'The OpenAPI document.', schema: z.looseObject({ openapi: z.string() }) },
        304: NOT_MODIFIED,
      },
      handler: async (_input, req, res) => {
        json ??= prepareJson(getDocument());
        sendPreparedBody(req, res, await json, { cacheControl: DOCS_CACHE_CONTROL });
      },
    }),
    route({
      method: 'get',
      path: '/docs',
      operationId: 'getDocsPage',
      summary: 'Human-readable documentation (HTML)',
      responses: {
        200: { description: 'The docs page.', contentType: 'text/html', schema: z.string() },
        304: NOT_MODIFIED,
      },
      handler: async (_input, req, res) => {
        html ??= prepareBody(Buffer.from(renderDocsPage(getDocument())), 'text/html; charset=utf-8');
        sendPreparedBody(req, res, await html, { cacheControl: DOCS_CACHE_CONTROL });
      },
    }),
  ];
  return { prefix: '', routes, document: getDocument };
}
