/**
 * Issue 5, gzip: a JSON response over the 1 KB minimum comes back gzip-compressed (one layer) to a
 * client that asks for it, and as plain bytes to one that does not, whether nginx answers it from its
 * micro-cache (variants kept apart by Vary: Accept-Encoding) or a replica answers it.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { edgeFixture, edgeUrl, loadtestHeaders, rawGet, type RawResponse } from './support.js';

/** Both the API (compression threshold) and nginx (gzip_min_length) leave smaller bodies alone. */
const GZIP_MIN_LENGTH = 1_024;

// 20 products (the default page) with long names: a list of about 4 KB.
const shop = edgeFixture('gzip', { count: 20 });

const gzip = { 'accept-encoding': 'gzip' };

/** The body as JSON text, after undoing exactly one layer of gzip when the response says it has one. */
function decoded(response: RawResponse): string {
  return (response.headers['content-encoding'] === 'gzip' ? gunzipSync(response.body) : response.body).toString('utf8');
}

function expectCompressed(response: RawResponse, plain: RawResponse): void {
  expect(response.status).toBe(200);
  expect(response.headers['content-encoding']).toBe('gzip');
  expect(response.headers.vary).toMatch(/accept-encoding/i);
  expect(response.body.length).toBeLessThan(plain.body.length);
  // One layer: a single gunzip gives the very JSON the plain response carries.
  expect(decoded(response)).toBe(plain.body.toString('utf8'));
}

function expectPlain(response: RawResponse): void {
  expect(response.status).toBe(200);
  expect(response.headers['content-encoding']).toBeUndefined();
  expect(response.body.length).toBeGreaterThan(GZIP_MIN_LENGTH);
  expect(() => JSON.parse(response.body.toString('utf8'))).not.toThrow();
}

describe('gzip', () => {
  it('when a cached public list over 1 KB is asked for with and without gzip, then each client gets its own encoding, intact', async () => {
    const path = `/api/v1/products?q=${shop.word}`;
    const url = edgeUrl(path);
    // Compressed first: the identity request that follows must not be handed the gzip bytes nginx just stored.
    const compressedMiss = await rawGet(url, { ...loadtestHeaders(), ...gzip });
    const plainMiss = await rawGet(url, loadtestHeaders());
    const compressedHit = await rawGet(url, { ...loadtestHeaders(), ...gzip });
    const plainHit = await rawGet(url, loadtestHeaders());

    expectPlain(plainMiss);
    expectPlain(plainHit);
    expect(JSON.parse(plainMiss.body.toString('utf8')).data).toHaveLength(20);
    expectCompressed(compressedMiss, plainMiss);
    expectCompressed(compressedHit, plainMiss);
    expect(plainHit.body.equals(plainMiss.body)).toBe(true);
    expect(
      [compressedMiss, plainMiss, compressedHit, plainHit].map((response) => response.headers['x-cache-status']),
    ).toEqual(['MISS', 'MISS', 'HIT', 'HIT']);
  });

  it('when an uncached JSON response over 1 KB is asked for with and without gzip, then it is compressed once or not at all', async () => {
    // A personal read (never cached) and the OpenAPI document (compressed by the API's middleware, not prepared bytes).
    for (const [path, headers] of [
      [`/api/v1/products?q=${shop.word}`, { authorization: `Bearer ${shop.token}` }],
      ['/api/openapi.json', {}],
    ] as const) {
      const plain = await rawGet(edgeUrl(path), { ...loadtestHeaders(), ...headers });
      const compressed = await rawGet(edgeUrl(path), { ...loadtestHeaders(), ...headers, ...gzip });
      expectPlain(plain);
      expectCompressed(compressed, plain);
    }
  });
});
