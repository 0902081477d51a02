/**
 * The OpenAPI document and the docs pages, built once, on first request, from the modules the app mounts, and
 * served as prepared bytes (gzip and ETag computed once):
 *   /docs            Swagger UI (npm `swagger-ui-dist`, served from node_modules by this route set): every
 *                    operation, and "Try it out" sends a request to this api from the page;
 *   /docs/reference  the same document rendered on the server (docs-page.ts), for readers without scripts.
 * Nothing is loaded from elsewhere: the scripts and the stylesheet come from /docs/assets/, Swagger UI's online
 * validator is off (validatorUrl: null), and helmet's default Content-Security-Policy holds unchanged (script-src
 * 'self' takes both scripts, the page has no inline script, style-src already allows Swagger UI's inline styles,
 * img-src 'self' data: its icons, and default-src 'self' its requests to this api).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { prepareBody, prepareJson, type CachedBody } from '@stack/core';
import { z } from 'zod';
import { renderDocsPage } from './docs-page.js';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi.js';
import { routeGroup, type ApiModule, type ApiRoute } from './route.js';
import { NOT_MODIFIED, sendPreparedBody } from './send-body.js';

const route = routeGroup({ tag: 'Documentation', access: 'public' });

const DOCS_CACHE_CONTROL = 'public, max-age=300';
const OPENAPI_PATH = '/api/openapi.json';

export const API_INFO = {
  title: 'Catalog and orders API',
  version: '1.0.0',
  description:
    'Public catalog reads (cached), customer orders with idempotency keys, admin catalog and token management.',
};

const swaggerUiDir = (): string => dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** Starts Swagger UI on the page: a file of its own, because the CSP allows no inline script. */
const SWAGGER_INIT = `'use strict';
window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: ${JSON.stringify(OPENAPI_PATH)},
    dom_id: '#swagger-ui',
    deepLinking: true,
    // The online validator (validator.swagger.io) would be a request to elsewhere.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    displayRequestDuration: true,
  });
});
`;

interface Asset {
  name: string;
  operationId: string;
  summary: string;
  contentType: 'text/css' | 'text/javascript';
  read: () => Buffer;
}

const ASSETS: Asset[] = [
  {
    name: 'swagger-ui.css',
    operationId: 'getSwaggerUiStylesheet',
    summary: 'Swagger UI stylesheet (swagger-ui-dist)',
    contentType: 'text/css',
    read: () => readFileSync(join(swaggerUiDir(), 'swagger-ui.css')),
  },
  {
    name: 'swagger-ui-bundle.js',
    operationId: 'getSwaggerUiScript',
    summary: 'Swagger UI script (swagger-ui-dist)',
    contentType: 'text/javascript',
    read: () => readFileSync(join(swaggerUiDir(), 'swagger-ui-bundle.js')),
  },
  {
    name: 'docs.js',
    operationId: 'getDocsScript',
    summary: 'The script that starts Swagger UI on /docs',
    contentType: 'text/javascript',
    read: () => Buffer.from(SWAGGER_INIT),
  },
];

function swaggerPage(): string {
  const title = `${API_INFO.title} ${API_INFO.version}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${title}</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<style>
  body { margin: 0; font: 14px/1.5 system-ui, sans-serif; }
  .docs-links { padding: 8px 20px; background: #14213d; color: #c9d3e6; }
  .docs-links a { color: #ffd166; }
</style>
</head>
<body>
<p class="docs-links">Machine-readable: <a href="${OPENAPI_PATH}">${OPENAPI_PATH}</a> (OpenAPI 3.1) &middot;
Without scripts: <a href="/docs/reference">/docs/reference</a> &middot; Errors are application/problem+json (RFC 9457).</p>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/docs.js"></script>
</body>
</html>
`;
}

/** A GET route answering prepared bytes, built on first request. */
function preparedRoute(
  definition: { path: string; operationId: string; summary: string; contentType: string },
  build: () => Promise<CachedBody>,
): ApiRoute {
  let body: Promise<CachedBody> | undefined;
  return route({
    method: 'get',
    path: definition.path,
    operationId: definition.operationId,
    summary: definition.summary,
    responses: {
      200: { description: 'The content.', contentType: definition.contentType, schema: z.string() },
      304: NOT_MODIFIED,
    },
    handler: async (_input, req, res) => {
      body ??= build();
      sendPreparedBody(req, res, await body, { cacheControl: DOCS_CACHE_CONTROL });
    },
  });
}

export function docsModule(allModules: () => readonly ApiModule[]): ApiModule & { document: () => OpenApiDocument } {
  let document: OpenApiDocument | undefined;
  let json: Promise<CachedBody> | undefined;
  const getDocument = () => (document ??= buildOpenApiDocument(allModules(), API_INFO));
  const html = (render: () => string) => () => prepareBody(Buffer.from(render()), 'text/html; charset=utf-8');

  const routes = [
    route({
      method: 'get',
      path: OPENAPI_PATH,
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
    preparedRoute(
      {
        path: '/docs',
        operationId: 'getDocsPage',
        summary: 'Interactive documentation: Swagger UI, try a request from the page (HTML)',
        contentType: 'text/html',
      },
      html(swaggerPage),
    ),
    preparedRoute(
      {
        path: '/docs/reference',
        operationId: 'getDocsReference',
        summary: 'The reference rendered on the server, no scripts (HTML)',
        contentType: 'text/html',
      },
      html(() => renderDocsPage(getDocument())),
    ),
    ...ASSETS.map((asset) =>
      preparedRoute({ ...asset, path: `/docs/assets/${asset.name}` }, () =>
        prepareBody(asset.read(), `${asset.contentType}; charset=utf-8`),
      ),
    ),
  ];
  return { prefix: '', routes, document: getDocument };
}
