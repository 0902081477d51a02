/**
 * A response body prepared once and sent many times: the JSON bytes, a gzip copy when it pays, and
 * an ETag, all computed when the body is built. Serving it is a Buffer write: no JSON.stringify, no
 * hashing, no compression per request.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCallback, constants as zlib } from 'node:zlib';

const gzip = promisify(gzipCallback);

export interface CachedBody {
  /** Weak validator (`W/"..."`): the same for the identity and the gzip bytes, which hold the same content. */
  etag: string;
  contentType: string;
  body: Buffer;
  /** The body gzipped, when it is at least GZIP_MIN_BYTES; sent to clients that accept gzip. */
  gzipped: Buffer | undefined;
}

/**
 * Below this size gzip saves less than its framing and CPU cost (same threshold as nginx's
 * gzip_min_length 1024 and compression's default).
 */
export const GZIP_MIN_BYTES = 1_024;

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export async function prepareBody(body: Buffer, contentType: string): Promise<CachedBody> {
  const etag = `W/"${createHash('sha1').update(body).digest('base64url')}"`;
  // Level 6 (zlib's default): stored bytes are compressed once and served many times, so a better
  // ratio than nginx's per-response level is worth the one-off cost.
  const gzipped =
    body.length >= GZIP_MIN_BYTES ? await gzip(body, { level: 6, memLevel: zlib.Z_DEFAULT_MEMLEVEL }) : undefined;
  return { etag, contentType, body, gzipped };
}

export function prepareJson(value: unknown): Promise<CachedBody> {
  return prepareBody(Buffer.from(JSON.stringify(value)), JSON_CONTENT_TYPE);
}

/*
 * Stored form, one Redis string:
 *   u8 format (1) | u8 etag length | etag | u8 content-type length | content type | u32 body length | body | gzip (rest, may be empty)
 * Decoding makes views into the stored buffer (subarray), no copies.
 */
const FORMAT = 1;

export function encodeCachedBody(entry: CachedBody): Buffer {
  const etag = Buffer.from(entry.etag, 'latin1');
  const contentType = Buffer.from(entry.contentType, 'latin1');
  const head = Buffer.alloc(2 + etag.length + 1 + contentType.length + 4);
  let offset = head.writeUInt8(FORMAT, 0);
  offset = head.writeUInt8(etag.length, offset);
  offset += etag.copy(head, offset);
  offset = head.writeUInt8(contentType.length, offset);
  offset += contentType.copy(head, offset);
  head.writeUInt32BE(entry.body.length, offset);
  return Buffer.concat([head, entry.body, entry.gzipped ?? Buffer.alloc(0)]);
}

/** The entry, or undefined when the bytes are not in this format (an older release's entry: a miss). */
export function decodeCachedBody(stored: Buffer): CachedBody | undefined {
  if (stored.length < 8 || stored.readUInt8(0) !== FORMAT) return undefined;
  let offset = 1;
  const etagLength = stored.readUInt8(offset);
  offset += 1;
  const etag = stored.toString('latin1', offset, offset + etagLength);
  offset += etagLength;
  const typeLength = stored.readUInt8(offset);
  offset += 1;
  const contentType = stored.toString('latin1', offset, offset + typeLength);
  offset += typeLength;
  if (offset + 4 > stored.length) return undefined;
  const bodyLength = stored.readUInt32BE(offset);
  offset += 4;
  if (offset + bodyLength > stored.length) return undefined;
  const body = stored.subarray(offset, offset + bodyLength);
  const rest = stored.subarray(offset + bodyLength);
  return { etag, contentType, body, gzipped: rest.length > 0 ? rest : undefined };
}
