/**
 * Issue 5, micro-cache: nginx keeps anonymous public GETs as long as the API's Cache-Control allows
 * (public, max-age=EDGE_CACHE_MAX_AGE_SECONDS), never serves or stores a request with credentials,
 * and keeps serving what it has (stale) when every replica is down. Runs on the native and on the compose stack.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { describeStack, stack, stop } from '../support/stack.js';
import {
  edgeUrl,
  ensureTwoReplicas,
  loadtestHeaders,
  replicaNames,
  restoreReplicas,
  servedBy,
  sleep,
  sum,
  edgeFixture,
} from './support.js';

describeStack('micro-cache', () => {
  beforeAll(ensureTwoReplicas);
  const shop = edgeFixture('cache', { count: 3 });

  const allReplicas = () => stack().apiUrls.map((_, index) => index);

  /** A product-list URL no other request has used: its own micro-cache entry. */
  const freshListUrl = () =>
    `/api/v1/products?q=${shop.word}&max_price=${100_000 + Math.floor(Math.random() * 2_000_000_000)}`;

  async function get(path: string, headers: Record<string, string> = {}) {
    const response = await fetch(edgeUrl(path), { headers: { ...loadtestHeaders(), ...headers } });
    return { status: response.status, headers: response.headers, body: await response.text() };
  }

  describe('micro-cache', () => {
    it('when an anonymous GET is repeated within max-age, then the repeat is a cache hit that no replica sees', async () => {
      const path = freshListUrl();
      const before = await servedBy(allReplicas(), '/api/v1/products');
      const first = await get(path);
      const second = await get(path);
      const after = await servedBy(allReplicas(), '/api/v1/products');

      expect(first.status).toBe(200);
      expect(first.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
      expect(first.headers.get('x-cache-status')).toBe('MISS');
      expect(second.status).toBe(200);
      expect(second.headers.get('x-cache-status')).toBe('HIT');
      expect(second.body).toBe(first.body);
      expect(JSON.parse(second.body).data).toHaveLength(3);
      // Two client requests, one upstream request.
      expect(sum(after) - sum(before)).toBe(1);
    });

    it('when a GET carries a bearer token or a cookie, then it is never served from the cache nor stored in it', async () => {
      const cachedPath = freshListUrl();
      const personalPath = freshListUrl();
      expect((await get(cachedPath)).headers.get('x-cache-status')).toBe('MISS');

      const before = await servedBy(allReplicas(), '/api/v1/products');
      const withToken = [
        await get(cachedPath, { authorization: `Bearer ${shop.token}` }),
        await get(personalPath, { authorization: `Bearer ${shop.token}` }),
        await get(personalPath, { authorization: `Bearer ${shop.token}` }),
        await get(personalPath, { cookie: 'session=abc' }),
      ];
      const after = await servedBy(allReplicas(), '/api/v1/products');

      expect(withToken.map((response) => response.status)).toEqual([200, 200, 200, 200]);
      expect(withToken.map((response) => response.headers.get('x-cache-status'))).toEqual([
        'BYPASS',
        'BYPASS',
        'BYPASS',
        'BYPASS',
      ]);
      // Every one of them reached a replica, including the one whose URL was cached.
      expect(sum(after) - sum(before)).toBe(4);
      // ...and none of them was stored: the first anonymous request for that URL is a miss.
      expect((await get(personalPath)).headers.get('x-cache-status')).toBe('MISS');
    });

    it('when every replica is down, then cached public pages are served stale and other requests get a problem+json 502', async () => {
      const cachedPath = freshListUrl();
      const uncachedPath = freshListUrl();
      const fresh = await get(cachedPath);
      expect(fresh.headers.get('x-cache-status')).toBe('MISS');
      const maxAgeSeconds = Number(/max-age=(\d+)/.exec(fresh.headers.get('cache-control') ?? '')?.[1]);
      const filledAt = Date.now();

      let outage: {
        stale: Awaited<ReturnType<typeof get>>;
        other: Awaited<ReturnType<typeof get>>;
        personal: Awaited<ReturnType<typeof get>>;
      };
      try {
        for (const name of replicaNames()) await stop(name, 'KILL');
        // Until the entry expires it is a plain HIT; after max-age (nginx counts whole seconds, so up to one
        // more) only the outage rule (proxy_cache_use_stale error) may serve it.
        let stale = await get(cachedPath);
        while (stale.headers.get('x-cache-status') === 'HIT' && Date.now() < filledAt + (maxAgeSeconds + 3) * 1_000) {
          await sleep(250);
          stale = await get(cachedPath);
        }
        outage = {
          stale,
          other: await get(uncachedPath),
          personal: await get(cachedPath, { authorization: `Bearer ${shop.token}` }),
        };
      } finally {
        await restoreReplicas();
      }

      expect(outage.stale.status).toBe(200);
      expect(outage.stale.headers.get('x-cache-status')).toBe('STALE');
      expect(outage.stale.body).toBe(fresh.body);

      for (const response of [outage.other, outage.personal]) {
        expect(response.status).toBe(502);
        expect(response.headers.get('content-type')).toBe('application/problem+json');
        expect(response.headers.get('retry-after')).toBe('5');
        expect(response.headers.get('cache-control')).toBe('no-store');
        const problem = JSON.parse(response.body) as Record<string, unknown>;
        expect(problem).toMatchObject({ type: 'https://problems.node-stack.dev/bad-gateway', status: 502 });
        expect(problem.requestId).toBe(response.headers.get('x-request-id'));
      }
    });
  });
});
