/**
 * Public catalog reads, served through the response cache: a hit writes stored bytes; a miss reads
 * Postgres once (single flight + lock) and stores the prepared body. Cache-Control lets nginx's
 * micro-cache and browsers keep them for EDGE_CACHE_MAX_AGE_SECONDS.
 */
import type { Request, Response } from 'express';
import {
  decodeCursor,
  encodeCursor,
  findActiveCategoryId,
  getActiveProduct,
  listCategories,
  listProducts,
  type CacheRead,
  type CatalogInvalidator,
  type Pool,
  type ResponseCache,
} from '@stack/core';
import { publicCacheControl } from '../http/cache-control.js';
import { AppError } from '../http/problem.js';
import { routeGroup, type ApiModule } from '../http/route.js';
import { NOT_MODIFIED, sendPreparedBody } from '../http/send-body.js';
import { fieldErrors, invalidCursor } from '../http/validate.js';
import { categoryListSchema, productIdParams, productListQuery, productListSchema, productSchema } from './schemas.js';

const route = routeGroup({ tag: 'Catalog', access: 'public' });

export interface CatalogDeps {
  pool: Pool;
  cache: ResponseCache;
  /** Names the versions each cached response is stored under. */
  catalog: CatalogInvalidator;
  edgeMaxAgeSeconds: number;
}

export function catalogModule(deps: CatalogDeps): ApiModule {
  const { pool, cache, catalog } = deps;
  const cacheControl = publicCacheControl(deps.edgeMaxAgeSeconds);
  /** The cached response; `notFound` when the loader found nothing (not cached: answered from Postgres each time). */
  const serveCached = async (
    req: Request,
    res: Response,
    read: CacheRead,
    load: () => Promise<unknown>,
    notFound: () => Error = () => new Error(`the ${read.scope} loader found nothing`),
  ) => {
    const { body } = await cache.read(read, load);
    if (!body) throw notFound();
    sendPreparedBody(req, res, body, { cacheControl });
  };

  const categories = route({
    method: 'get',
    path: '/categories',
    operationId: 'listCategories',
    summary: 'List categories',
    description: 'Active categories by name, each with its number of active products.',
    responses: { 200: { description: 'The categories.', schema: categoryListSchema }, 304: NOT_MODIFIED },
    handler: (_input, req, res) =>
      serveCached(req, res, { scope: 'categories', key: 'all', versions: catalog.listVersions() }, async () => ({
        data: await listCategories(pool),
      })),
  });

  const products = route({
    method: 'get',
    path: '/products',
    operationId: 'listProducts',
    rulesBeyondSchema:
      '`category` must be the slug of an active category, `min_price` must not be above `max_price`, and `cursor` ' +
      'must be one this list handed out.',
    summary: 'List products',
    description:
      'Active products in id order, filtered by category, price range and text search, one page at a time. ' +
      'Keyset pagination: pass `nextCursor` as `cursor` for the next page; a deep page costs the same as the first. ' +
      'An unknown or inactive category is a 422.',
    query: productListQuery,
    responses: { 200: { description: 'One page of products.', schema: productListSchema }, 304: NOT_MODIFIED },
    handler: ({ query }, req, res) => {
      let afterId: number | undefined;
      if (query.cursor !== undefined) {
        const decoded = decodeCursor(query.cursor, ['int']);
        if (!decoded) throw invalidCursor();
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
      const load = async () => {
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
      };
      return serveCached(req, res, { scope: 'products', key, versions: catalog.listVersions() }, load, () =>
        fieldErrors([{ path: 'query.category', message: 'is not the slug of an active category' }]),
      );
    },
  });

  const product = route({
    method: 'get',
    path: '/products/:id',
    operationId: 'getProduct',
    summary: 'Get a product',
    description: 'An active product with its description and current stock. Inactive products are 404.',
    params: productIdParams,
    responses: {
      200: { description: 'The product.', schema: productSchema },
      304: NOT_MODIFIED,
      404: { description: 'No active product has this id.' },
    },
    handler: ({ params }, req, res) =>
      serveCached(
        req,
        res,
        { scope: 'product', key: String(params.id), versions: catalog.productVersions(params.id) },
        () => getActiveProduct(pool, params.id),
        () => new AppError('notFound', `No active product with id ${params.id}.`),
      ),
  });

  return { prefix: '/api/v1', routes: [categories, products, product] };
}
