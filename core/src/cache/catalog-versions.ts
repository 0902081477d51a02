/**
 * Which cached responses a catalog change invalidates (see response-cache.ts for the mechanism):
 *   - `catalog`: every list page, the category list and every product detail. Bumped by every admin
 *     write to a product or a category (prices, names, activity and counts all show in lists).
 *   - `product:<id>`: that product's detail. Bumped by stock changes (orders), which show only in the
 *     detail; list pages carry no stock, so placing orders does not empty the list cache.
 */
import type { Logger } from '../logger.js';
import type { Redis } from '../redis.js';
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
