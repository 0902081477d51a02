/**
 * Admin writes to the catalog. Every successful write bumps the catalog cache version before the
 * response goes out, so the next public read on any replica sees it (core/src/cache).
 */
import {
  catalogVersions,
  createCategory,
  createProduct,
  deactivateProduct,
  updateCategory,
  updateProduct,
  type CategoryWriteResult,
  type Pool,
  type ProductWriteResult,
  type ResponseCache,
} from '@stack/core';
import { AppError } from '../http/problem.js';
import { defineRoute, type ApiModule } from '../http/route.js';
import { fieldErrors } from '../http/validate.js';
import {
  adminCategorySchema,
  adminProductSchema,
  categoryCreateSchema,
  categoryPatchSchema,
  productCreateSchema,
  productIdParams,
  productPatchSchema,
} from '../schemas/catalog.js';
import { idParams } from '../schemas/common.js';
import { PRIVATE_CACHE_CONTROL } from '../http/cache-control.js';

export interface AdminCatalogDeps {
  pool: Pool;
  cache: ResponseCache;
}

export function adminCatalogModule(deps: AdminCatalogDeps): ApiModule {
  const { pool, cache } = deps;
  const invalidate = () => cache.invalidate(catalogVersions.lists(cache));

  const categoryResult = async (result: CategoryWriteResult, id?: number) => {
    if (result.ok) {
      await invalidate();
      return result.category;
    }
    switch (result.reason) {
      case 'not-found':
        throw new AppError('notFound', `No category with id ${String(id)}.`);
      case 'slug-taken':
        throw new AppError('conflict', 'Another category has this slug.');
      case 'has-active-products':
        throw new AppError(
          'conflict',
          `The category has ${result.activeProducts} active products; deactivate or move them first.`,
          { activeProducts: result.activeProducts },
        );
    }
  };

  const productResult = async (result: ProductWriteResult, id?: number) => {
    if (result.ok) {
      await invalidate();
      return result.product;
    }
    switch (result.reason) {
      case 'not-found':
        throw new AppError('notFound', `No product with id ${String(id)}.`);
      case 'sku-taken':
        throw new AppError('conflict', 'Another product has this SKU.');
      case 'category-unavailable':
        throw fieldErrors([{ path: 'body.categoryId', message: 'is not an active category' }]);
    }
  };

  const routes = [
    defineRoute({
      method: 'post',
      path: '/admin/categories',
      operationId: 'createCategory',
      summary: 'Create a category',
      tag: 'Admin: catalog',
      access: ['admin'],
      body: categoryCreateSchema,
      responses: {
        201: { description: 'Created.', schema: adminCategorySchema },
        409: { description: 'Another category has this slug.' },
      },
      handler: async ({ body }, _req, res) => {
        const category = await categoryResult(await createCategory(pool, body));
        res.status(201).set('Cache-Control', PRIVATE_CACHE_CONTROL).json(category);
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/admin/categories/:id',
      operationId: 'updateCategory',
      summary: 'Change a category',
      description:
        'Rename, change the slug, or (de)activate. Deactivating needs the category to have no active products.',
      tag: 'Admin: catalog',
      access: ['admin'],
      params: idParams,
      body: categoryPatchSchema,
      responses: {
        200: { description: 'Changed.', schema: adminCategorySchema },
        404: { description: 'No category with this id.' },
        409: { description: 'Slug taken, or deactivation while the category has active products.' },
      },
      handler: async ({ params, body }, _req, res) => {
        const category = await categoryResult(await updateCategory(pool, params.id, body), params.id);
        res.set('Cache-Control', PRIVATE_CACHE_CONTROL).json(category);
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/admin/categories/:id',
      operationId: 'deactivateCategory',
      summary: 'Deactivate a category',
      description:
        'Same as PATCH with `active: false`. Categories are never deleted: products and orders refer to them.',
      tag: 'Admin: catalog',
      access: ['admin'],
      params: idParams,
      responses: {
        204: { description: 'Deactivated (or already inactive).' },
        404: { description: 'No category with this id.' },
        409: { description: 'The category has active products.' },
      },
      handler: async ({ params }, _req, res) => {
        await categoryResult(await updateCategory(pool, params.id, { active: false }), params.id);
        res.status(204).set('Cache-Control', PRIVATE_CACHE_CONTROL).end();
      },
    }),
    defineRoute({
      method: 'post',
      path: '/admin/products',
      operationId: 'createProduct',
      summary: 'Create a product',
      tag: 'Admin: catalog',
      access: ['admin'],
      body: productCreateSchema,
      // A description holds up to 5,000 characters, up to 4 bytes each in UTF-8.
      bodyLimit: '64kb',
      responses: {
        201: { description: 'Created.', schema: adminProductSchema },
        409: { description: 'Another product has this SKU.' },
      },
      handler: async ({ body }, _req, res) => {
        const product = await productResult(await createProduct(pool, body));
        res.status(201).set('Cache-Control', PRIVATE_CACHE_CONTROL).json(product);
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/admin/products/:id',
      operationId: 'updateProduct',
      summary: 'Change a product',
      description: 'Any field, including stock and `active`. An active product must be in an active category.',
      tag: 'Admin: catalog',
      access: ['admin'],
      params: productIdParams,
      body: productPatchSchema,
      bodyLimit: '64kb',
      responses: {
        200: { description: 'Changed.', schema: adminProductSchema },
        404: { description: 'No product with this id.' },
        409: { description: 'Another product has this SKU.' },
      },
      handler: async ({ params, body }, _req, res) => {
        const product = await productResult(await updateProduct(pool, params.id, body), params.id);
        res.set('Cache-Control', PRIVATE_CACHE_CONTROL).json(product);
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/admin/products/:id',
      operationId: 'deactivateProduct',
      summary: 'Deactivate a product',
      description: 'Hides the product from the public catalog. Products are never deleted: orders refer to them.',
      tag: 'Admin: catalog',
      access: ['admin'],
      params: productIdParams,
      responses: {
        204: { description: 'Deactivated (or already inactive).' },
        404: { description: 'No product with this id.' },
      },
      handler: async ({ params }, _req, res) => {
        if (!(await deactivateProduct(pool, params.id)))
          throw new AppError('notFound', `No product with id ${params.id}.`);
        await invalidate();
        res.status(204).set('Cache-Control', PRIVATE_CACHE_CONTROL).end();
      },
    }),
  ];
  return { prefix: '/api/v1', routes };
}
