/**
 * Which cached responses a catalog change invalidates (see response-cache.ts for the mechanism):
 *   - `catalog`: every list page, the category list and every product detail. Bumped by every admin
 *     write to a product or a category (prices, names, activity and counts all show in lists).
 *   - `product:<id>`: that product's detail. Bumped by stock changes (orders), which show only in the
 *     detail; list pages carry no stock, so placing orders does not empty the list cache.
 */
import { once } from 'node:events';
import type { Logger } from '../logger.js';
import { createCacheRedis, withDeadline, type Redis } from '../redis.js';
import { ResponseCache } from './response-cache.js';

export const catalogVersions = {
  /** For lists and the category list. */
  lists: (cache: ResponseCache): string[] => [cache.versionKey('catalog')],
  /** For one product's detail. */
  product: (cache: ResponseCache, productId: number): string[] => [
    cache.versionKey('catalog'),
    cache.versionKey(`product:${productId}`),
  ],
  /** What a stock change of these products invalidates. */
  stock: (cache: ResponseCache, productIds: readonly number[]): string[] =>
    productIds.map((id) => cache.versionKey(`product:${id}`)),
};

/**
 * For writers outside the api (the worker's imports): invalidates every cached catalog response.
 * Same contract as `ResponseCache.invalidate`: true when Redis has the bump, false (logged) when the
 * cache Redis is unavailable, never throws.
 */
export async function invalidateCatalogCache(cacheRedis: Redis, logger: Logger): Promise<boolean> {
  const cache = new ResponseCache(cacheRedis, { logger, ttlSeconds: 60 });
  return cache.invalidate(catalogVersions.lists(cache));
}

/**
 * For one-shot commands (seed, load-test preparation) that rewrite the catalog: connects to the cache Redis, bumps
 * the catalog version so that nothing cached before is served after, and disconnects. Logs and returns false when
 * the cache does not answer (its entries then expire within CACHE_TTL_SECONDS).
 */
export async function invalidateCatalogCacheAt(url: string, logger: Logger): Promise<boolean> {
  const redis = createCacheRedis(url, 2_000, logger);
  try {
    // The cache client has no offline queue: a command before the connection is ready would fail at once.
    await withDeadline(once(redis, 'ready'), 5_000, undefined);
    const bumped = await invalidateCatalogCache(redis, logger);
    if (!bumped) logger.warn('the cache Redis did not take the catalog version bump: cached lists may be stale');
    return bumped;
  } finally {
    redis.disconnect();
  }
}
