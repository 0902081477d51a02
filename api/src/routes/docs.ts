/**
 * The OpenAPI document and the docs page. Both are built once, on first request, from the modules
 * the app mounts, and served as prepared bytes (gzip and ETag computed once).
 */
import { prepareBody, prepareJson, type CachedBody } from '@stack/core';
import { z } from 'zod';
import { renderDocsPage } from '../http/docs-page.js';
import { buildOpenApiDocument, type OpenApiDocument } from '../http/openapi.js';
import { defineRoute, type ApiModule } from '../http/route.js';
import { sendPreparedBody } from '../http/send-body.js';

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
    defineRoute({
      method: 'get',
      path: '/api/openapi.json',
      operationId: 'getOpenApiDocument',
      summary: 'This document (OpenAPI 3.1)',
      tag: 'Documentation',
      access: 'public',
      responses: {
        200: { description: 'The OpenAPI document.', schema: z.looseObject({ openapi: z.string() }) },
        304: { description: 'Not modified.' },
      },
      handler: async (_input, req, res) => {
        json ??= prepareJson(getDocument());
        sendPreparedBody(req, res, await json, { cacheControl: DOCS_CACHE_CONTROL });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/docs',
      operationId: 'getDocsPage',
      summary: 'Human-readable documentation (HTML)',
      tag: 'Documentation',
      access: 'public',
      responses: {
        200: { description: 'The docs page.', contentType: 'text/html', schema: z.string() },
        304: { description: 'Not modified.' },
      },
      handler: async (_input, req, res) => {
        html ??= prepareBody(Buffer.from(renderDocsPage(getDocument())), 'text/html; charset=utf-8');
        sendPreparedBody(req, res, await html, { cacheControl: DOCS_CACHE_CONTROL });
      },
    }),
  ];
  return { prefix: '', routes, document: getDocument };
}
