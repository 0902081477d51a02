/**
 * Public catalog reads, served through the response cache: a hit writes stored bytes; a miss reads
 * Postgres once (single flight + lock) and stores the prepared body. Cache-Control lets nginx's
 * micro-cache and browsers keep them for EDGE_CACHE_MAX_AGE_SECONDS.
 */
import {
  catalogVersions,
  decodeCursor,
  encodeCursor,
  findActiveCategoryId,
  getActiveProduct,
  listCategories,
  listProducts,
  type Pool,
  type ResponseCache,
} from '@stack/core';
import { AppError } from '../http/problem.js';
import { defineRoute, type ApiModule } from '../http/route.js';
import { sendPreparedBody } from '../http/send-body.js';
import { fieldErrors } from '../http/validate.js';
import {
  categoryListSchema,
  productIdParams,
  productListQuery,
  productListSchema,
  productSchema,
} from '../schemas/catalog.js';

export interface CatalogDeps {
  pool: Pool;
  cache: ResponseCache;
  edgeMaxAgeSeconds: number;
}

export function catalogModule(deps: CatalogDeps): ApiModule {
  const { pool, cache } = deps;
  const cacheControl = publicCacheControl(deps.edgeMaxAgeSeconds);

  const categories = defineRoute({
    method: 'get',
    path: '/categories',
    operationId: 'listCategories',
    summary: 'List categories',
    description: 'Active categories by name, each with its number of active products.',
    tag: 'Catalog',
    access: 'public',
    responses: {
      200: { description: 'The categories.', schema: categoryListSchema },
      304: { description: 'Not modified (If-None-Match matched the ETag).' },
    },
    handler: async (_input, req, res) => {
      const { body } = await cache.read(
        { scope: 'categories', key: 'all', versions: catalogVersions.lists(cache) },
        async () => ({ data: await listCategories(pool) }),
      );
      sendPreparedBody(req, res, body as NonNullable<typeof body>, { cacheControl });
    },
  });

  const products = defineRoute({
    method: 'get',
    path: '/products',
    operationId: 'listProducts',
    summary: 'List products',
    description:
      'Active products in id order, filtered by category, price range and text search, one page at a time. ' +
      'Keyset pagination: pass `nextCursor` as `cursor` for the next page; a deep page costs the same as the first. ' +
      'An unknown or inactive category is a 422.',
    tag: 'Catalog',
    access: 'public',
    query: productListQuery,
    responses: {
      200: { description: 'One page of products.', schema: productListSchema },
      304: { description: 'Not modified (If-None-Match matched the ETag).' },
    },
    handler: async ({ query }, req, res) => {
      let afterId: number | undefined;
      if (query.cursor !== undefined) {
        const decoded = decodeCursor(query.cursor, ['int']);
        if (!decoded) throw fieldErrors([{ path: 'query.cursor', message: 'is not a cursor this api returned' }]);
        afterId = decoded[0];
      }
      // The key is built from the parsed values, so equivalent URLs share one entry.
      const key = [
        `c=${query.category ?? ''}`,
        `min=${query.min_price ?? ''}`,
        `max=${query.max_price ?? ''}`,
        `after=${afterId ?? ''}`,
        `limit=${query.limit}`,
        `q=${query.q ?? ''}`,
      ].join('&');
      const { body } = await cache.read(
        { scope: 'products', key, versions: catalogVersions.lists(cache) },
        async () => {
          let categoryId: number | undefined;
          if (query.category !== undefined) {
            categoryId = await findActiveCategoryId(pool, query.category);
            // Nothing to cache: the route answers 422 for an unknown or inactive category.
            if (categoryId === undefined) return undefined;
          }
          const page = await listProducts(pool, {
            categoryId,
            minPriceCents: query.min_price,
            maxPriceCents: query.max_price,
            search: query.q,
            afterId,
            limit: query.limit,
          });
          return { data: page.items, nextCursor: page.nextAfterId === null ? null : encodeCursor([page.nextAfterId]) };
        },
      );
      if (!body) throw fieldErrors([{ path: 'query.category', message: 'is not the slug of an active category' }]);
      sendPreparedBody(req, res, body, { cacheControl });
    },
  });

  const product = defineRoute({
    method: 'get',
    path: '/products/:id',
    operationId: 'getProduct',
    summary: 'Get a product',
    description: 'An active product with its description and current stock. Inactive products are 404.',
    tag: 'Catalog',
    access: 'public',
    params: productIdParams,
    responses: {
      200: { description: 'The product.', schema: productSchema },
      304: { description: 'Not modified (If-None-Match matched the ETag).' },
      404: { description: 'No active product has this id.' },
    },
    handler: async ({ params }, req, res) => {
      const { body } = await cache.read(
        { scope: 'product', key: String(params.id), versions: catalogVersions.product(cache, params.id) },
        () => getActiveProduct(pool, params.id),
      );
      if (!body) throw new AppError('notFound', `No active product with id ${params.id}.`);
      sendPreparedBody(req, res, body, { cacheControl });
    },
  });

  return { prefix: '/api/v1', routes: [categories, products, product] };
}

/** Cache-Control of public reads: nginx's micro-cache and browsers may keep them this long. */
export function publicCacheControl(maxAgeSeconds: number): string {
  return maxAgeSeconds > 0 ? `public, max-age=${maxAgeSeconds}` : 'no-cache';
}
