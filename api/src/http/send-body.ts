/**
 * Sends a prepared body (core/src/cache/cached-body.ts) as it is: the gzip bytes to clients that
 * accept gzip (with Content-Encoding, so neither the compression middleware nor nginx compresses
 * them again), the identity bytes otherwise, or a 304 when the client's ETag still matches. No
 * serialization, hashing or compression happens here.
 */
import type { Request, Response } from 'express';
import type { CachedBody } from '@stack/core';
import type { ResponseSpec } from './route.js';

/** The 304 every route answering with `sendPreparedBody` documents. */
export const NOT_MODIFIED: ResponseSpec = { description: 'Not modified (If-None-Match matched the ETag).' };

declare module 'express-serve-static-core' {
  interface Locals {
    /** Set when the response body is already prepared; the compression middleware leaves it alone. */
    preparedBody?: boolean;
  }
}

export function sendPreparedBody(
  req: Request,
  res: Response,
  prepared: CachedBody,
  options: { cacheControl: string; status?: number },
): void {
  res.setHeader('ETag', prepared.etag);
  res.setHeader('Cache-Control', options.cacheControl);
  // The bytes differ by Accept-Encoding: shared caches (nginx's micro-cache) keep the variants apart.
  res.setHeader('Vary', 'Accept-Encoding');
  res.locals.preparedBody = true;
  if ((options.status ?? 200) === 200 && etagMatches(req.headers['if-none-match'], prepared.etag)) {
    res.status(304).end();
    return;
  }
  const gzip = prepared.gzipped !== undefined && acceptsGzip(req.headers['accept-encoding']);
  const bytes = gzip ? (prepared.gzipped as Buffer) : prepared.body;
  if (gzip) res.setHeader('Content-Encoding', 'gzip');
  res.setHeader('Content-Type', prepared.contentType);
  res.setHeader('Content-Length', bytes.length);
  res.status(options.status ?? 200).end(bytes);
}

/** If-None-Match with weak comparison (RFC 9110 13.1.2): `*`, or any listed tag equal ignoring `W/`. */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  return header.split(',').some((candidate) => {
    const tag = candidate.trim();
    return (tag.startsWith('W/') ? tag.slice(2) : tag) === opaque;
  });
}

/** gzip is acceptable unless absent or refused with q=0 (RFC 9110 12.5.3). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const refused = q !== undefined && Number(q.slice(2)) === 0;
    if (coding === '*' && header.toLowerCase().includes('gzip')) continue;
    return !refused;
  }
  return false;
}
