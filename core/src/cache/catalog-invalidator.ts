/**
 * Catalog invalidation, owned here so that every catalog write invalidates the same way: the api's admin
 * writes and orders, the worker's imports, the seed. Which cached responses a change invalidates (see
 * response-cache.ts for the mechanism):
 *   - `catalog`: every list page, the category list and every product detail. Bumped by every write to a
 *     product or a category (prices, names, activity and counts all show in lists).
 *   - `product:<id>`: that product's detail. Bumped by stock changes (orders), which show only in the
 *     detail; list pages carry no stock, so placing orders does not empty the list cache.
 */
import { once } from 'node:events';
import type { Logger } from '../logger.js';
import { createCacheRedis, withDeadline, type Redis } from '../redis.js';
import { bumpVersions, CACHE_KEY_PREFIX } from './response-cache.js';

export class CatalogInvalidator {
  private readonly prefix: string;

  /** `keyPrefix`: the response cache's namespace (default CACHE_KEY_PREFIX, which the api's cache uses too). */
  constructor(
    private readonly cacheRedis: Redis,
    private readonly options: { logger: Logger; keyPrefix?: string },
  ) {
    this.prefix = `${options.keyPrefix ?? CACHE_KEY_PREFIX}v:`;
  }

  /** The versions a cached list or the category list is stored under. */
  listVersions(): string[] {
    return [`${this.prefix}catalog`];
  }

  /** The versions a cached product detail is stored under. */
  productVersions(productId: number): string[] {
    return [`${this.prefix}catalog`, `${this.prefix}product:${productId}`];
  }

  /** After a committed write to products or categories: every cached catalog response is stale. */
  catalogChanged(): Promise<boolean> {
    return this.bump(this.listVersions());
  }

  /** After a committed stock change of these products: their details are stale (lists carry no stock). */
  stockChanged(productIds: readonly number[]): Promise<boolean> {
    return this.bump(productIds.map((id) => `${this.prefix}product:${id}`));
  }

  /**
   * Resolves when Redis has the bump (so a writer's response goes out only once every replica will miss): true,
   * or false (logged) when the cache Redis is unavailable. Never throws: the write is committed, and the api's
   * reconnect bump covers the outage; entries cached before it expire within the TTL otherwise.
   */
  private async bump(versionKeys: readonly string[]): Promise<boolean> {
    try {
      await bumpVersions(this.cacheRedis, versionKeys);
      return true;
    } catch (error) {
      this.options.logger.warn({ err: error }, 'catalog cache invalidation failed; cached entries expire by TTL');
      return false;
    }
  }
}

/**
 * For one-shot commands (seed, load-test preparation) that rewrite the catalog: connects to the cache Redis,
 * invalidates the catalog so that nothing cached before is served after, and disconnects. Logs and returns false
 * when the cache does not answer (its entries then expire within CACHE_TTL_SECONDS).
 */
export async function invalidateCatalogCacheAt(url: string, logger: Logger): Promise<boolean> {
  const redis = createCacheRedis(url, 2_000, logger);
  try {
    // The cache client has no offline queue: a command before the connection is ready would fail at once.
    await withDeadline(once(redis, 'ready'), 5_000, undefined);
    return await new CatalogInvalidator(redis, { logger }).catalogChanged();
  } finally {
    redis.disconnect();
  }
}
