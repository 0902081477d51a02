/**
 * Catalog imports over HTTP. The upload is streamed: each piece of the request body is written to
 * Postgres (core/src/imports/storage.ts) as it arrives, with backpressure, so the api holds about one
 * chunk (1 MiB) of a 50 MB file, never the file. nginx passes the body through unbuffered for this
 * path (proxy_request_buffering off).
 */
import type { Request } from 'express';
import {
  getImport,
  ImportEmptyError,
  ImportTooLargeError,
  listImportErrors,
  storeImportUpload,
  type Import,
  type ImportFormat,
  type Pool,
} from '@stack/core';
import { auditedFor } from '../audit/actor.js';
import { AppError, foundOr404 } from '../http/problem.js';
import { callerId } from '../http/auth.js';
import { routeGroup, type ApiModule } from '../http/route.js';
import { importErrorListSchema, importErrorsQuery, importIdParams, importSchema } from './schemas.js';

const route = routeGroup({ tag: 'Jobs', access: ['admin'] });

const importUrl = (id: string) => `/api/v1/admin/imports/${id}`;

/** Media types accepted for an upload, and the format each one means. */
const FORMATS: Record<string, ImportFormat> = {
  'text/csv': 'csv',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
};

export function importView(entry: Import) {
  return {
    id: entry.id,
    format: entry.format,
    fileBytes: entry.fileBytes,
    status: entry.status,
    progress: entry.progress,
    rowsTotal: entry.rowsTotal,
    rowsApplied: entry.rowsApplied,
    rowsFailed: entry.rowsFailed,
    error: entry.error,
    createdAt: entry.createdAt,
    startedAt: entry.startedAt,
    completedAt: entry.completedAt,
    links: { self: importUrl(entry.id), errors: `${importUrl(entry.id)}/errors` },
  };
}

function uploadFormat(req: Request): ImportFormat {
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  const format = FORMATS[mediaType];
  if (!format) {
    throw new AppError(
      'unsupportedMediaType',
      'Upload the file as text/csv or application/x-ndjson.',
      {},
      { 'Accept-Post': Object.keys(FORMATS).join(', ') },
    );
  }
  return format;
}

export function importsModule(deps: { pool: Pool; maxBytes: number }): ApiModule {
  const { pool, maxBytes } = deps;
  const tooLarge = () =>
    // Connection: close, so the rest of a refused upload is not read just to keep the connection.
    new AppError(
      'payloadTooLarge',
      `An import file may have at most ${maxBytes} bytes.`,
      { maxBytes },
      { Connection: 'close' },
    );

  const routes = [
    route({
      method: 'post',
      path: '/admin/imports',
      operationId: 'uploadImport',
      summary: 'Upload a catalog import (CSV or NDJSON, streamed)',
      description:
        `Products keyed by SKU: columns (CSV header) or fields (NDJSON) sku, category (slug), name, price_cents, and ` +
        `optionally description, stock, active. Up to ${maxBytes} bytes. Answers 202 with the status URL once the ` +
        'whole file is stored; the worker validates each row, applies the good ones in batches and lists the bad ones ' +
        'by line. Importing the same file again changes nothing.',
      rawBody: {
        contentTypes: Object.keys(FORMATS),
        description: 'The file: text/csv, or application/x-ndjson (one JSON object per line).',
      },
      responses: {
        400: { description: 'The uploaded file is empty.' },
        202: {
          description: 'Stored and queued.',
          schema: importSchema,
          headers: { Location: { description: 'Status URL of the import.', schema: { type: 'string' } } },
        },
      },
      handler: async (_input, req, res) => {
        const format = uploadFormat(req);
        const declared = Number(req.headers['content-length'] ?? Number.NaN);
        if (declared > maxBytes) throw tooLarge();
        let stored: Import;
        try {
          stored = await auditedFor(pool, req)(
            (tx) =>
              storeImportUpload(tx, {
                userId: callerId(req),
                format,
                // Not destroyed when storing stops early (too large), so the 413 can still be sent.
                body: req.iterator({ destroyOnReturn: false }),
                maxBytes,
              }),
            (entry) => ({
              action: 'import.start',
              targetType: 'import',
              targetId: entry.id,
              details: { format: entry.format, fileBytes: entry.fileBytes },
            }),
          );
        } catch (error) {
          if (error instanceof ImportTooLargeError) throw tooLarge();
          if (error instanceof ImportEmptyError) throw new AppError('badRequest', 'The uploaded file is empty.');
          throw error;
        }
        res.status(202).location(importUrl(stored.id)).json(importView(stored));
      },
    }),
    route({
      method: 'get',
      path: '/admin/imports/:id',
      operationId: 'getImport',
      summary: 'Status, progress and row counts of an import',
      params: importIdParams,
      responses: { 200: { description: 'The import.', schema: importSchema }, 404: { description: 'No such import.' } },
      handler: async ({ params }, _req, res) => {
        const entry = foundOr404(await getImport(pool, params.id), `No import ${params.id}.`);
        res.json(importView(entry));
      },
    }),
    route({
      method: 'get',
      path: '/admin/imports/:id/errors',
      operationId: 'listImportErrors',
      summary: 'Rows an import refused, by line',
      params: importIdParams,
      query: importErrorsQuery,
      responses: {
        200: { description: 'One page of row errors, by line number.', schema: importErrorListSchema },
        404: { description: 'No such import.' },
      },
      handler: async ({ params, query }, _req, res) => {
        foundOr404(await getImport(pool, params.id), `No import ${params.id}.`);
        const rows = await listImportErrors(pool, params.id, { afterLine: query.cursor ?? 0, limit: query.limit + 1 });
        const data = rows.slice(0, query.limit);
        const last = data.at(-1);
        res.json({ data, nextCursor: rows.length > query.limit && last ? String(last.line) : null });
      },
    }),
  ];
  return { prefix: '/api/v1', routes };
}
