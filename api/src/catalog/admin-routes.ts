/**
 * Admin writes to the catalog. Every successful write invalidates the catalog cache before the
 * response goes out, so the next public read on any replica sees it (core/src/cache/catalog-invalidator.ts).
 */
import {
  createCategory,
  createProduct,
  deactivateProduct,
  updateCategory,
  updateProduct,
  type CatalogInvalidator,
  type CategoryWriteResult,
  type Pool,
  type ProductWriteResult,
} from '@stack/core';
import { AppError } from '../http/problem.js';
import { routeGroup, type ApiModule, type ApiRoute } from '../http/route.js';
import { fieldErrors } from '../http/validate.js';
import {
  adminCategorySchema,
  adminProductSchema,
  categoryCreateSchema,
  categoryPatchSchema,
  productCreateSchema,
  productIdParams,
  productPatchSchema,
} from './schemas.js';
import { idParams } from '../http/schemas.js';

const route = routeGroup({ tag: 'Admin: catalog', access: ['admin'] });

export interface AdminCatalogDeps {
  pool: Pool;
  catalog: CatalogInvalidator;
}

export function adminCatalogModule(deps: AdminCatalogDeps): ApiModule {
  return { prefix: '/api/v1', routes: [...categoryRoutes(deps), ...productRoutes(deps)] };
}

function categoryRoutes({ pool, catalog }: AdminCatalogDeps): ApiRoute[] {
  const categoryResult = async (result: CategoryWriteResult, id?: number) => {
    if (result.ok) {
      await catalog.catalogChanged();
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

  return [
    route({
      method: 'post',
      path: '/admin/categories',
      operationId: 'createCategory',
      summary: 'Create a category',
      body: categoryCreateSchema,
      responses: {
        201: { description: 'Created.', schema: adminCategorySchema },
        409: { description: 'Another category has this slug.' },
      },
      handler: async ({ body }, _req, res) => {
        const category = await categoryResult(await createCategory(pool, body));
        res.status(201).json(category);
      },
    }),
    route({
      method: 'patch',
      path: '/admin/categories/:id',
      operationId: 'updateCategory',
      summary: 'Change a category',
      description:
        'Rename, change the slug, or (de)activate. Deactivating needs the category to have no active products.',
      params: idParams,
      body: categoryPatchSchema,
      responses: {
        200: { description: 'Changed.', schema: adminCategorySchema },
        404: { description: 'No category with this id.' },
        409: { description: 'Slug taken, or deactivation while the category has active products.' },
      },
      handler: async ({ params, body }, _req, res) => {
        const category = await categoryResult(await updateCategory(pool, params.id, body), params.id);
        res.json(category);
      },
    }),
    route({
      method: 'delete',
      path: '/admin/categories/:id',
      operationId: 'deactivateCategory',
      summary: 'Deactivate a category',
      description:
        'Same as PATCH with `active: false`. Categories are never deleted: products and orders refer to them.',
      params: idParams,
      responses: {
        204: { description: 'Deactivated (or already inactive).' },
        404: { description: 'No category with this id.' },
        409: { description: 'The category has active products.' },
      },
      handler: async ({ params }, _req, res) => {
        await categoryResult(await updateCategory(pool, params.id, { active: false }), params.id);
        res.status(204).end();
      },
    }),
  ];
}

function productRoutes({ pool, catalog }: AdminCatalogDeps): ApiRoute[] {
  const productResult = async (result: ProductWriteResult, id?: number) => {
    if (result.ok) {
      await catalog.catalogChanged();
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

  return [
    route({
      method: 'post',
      path: '/admin/products',
      operationId: 'createProduct',
      summary: 'Create a product',
      body: productCreateSchema,
      // A description holds up to 5,000 characters, up to 4 bytes each in UTF-8.
      bodyLimit: '64kb',
      responses: {
        201: { description: 'Created.', schema: adminProductSchema },
        409: { description: 'Another product has this SKU.' },
      },
      handler: async ({ body }, _req, res) => {
        const product = await productResult(await createProduct(pool, body));
        res.status(201).json(product);
      },
    }),
    route({
      method: 'patch',
      path: '/admin/products/:id',
      operationId: 'updateProduct',
      summary: 'Change a product',
      description: 'Any field, including stock and `active`. An active product must be in an active category.',
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
        res.json(product);
      },
    }),
    route({
      method: 'delete',
      path: '/admin/products/:id',
      operationId: 'deactivateProduct',
      summary: 'Deactivate a product',
      description: 'Hides the product from the public catalog. Products are never deleted: orders refer to them.',
      params: productIdParams,
      responses: {
        204: { description: 'Deactivated (or already inactive).' },
        404: { description: 'No product with this id.' },
      },
      handler: async ({ params }, _req, res) => {
        if (!(await deactivateProduct(pool, params.id)))
          throw new AppError('notFound', `No product with id ${params.id}.`);
        await catalog.catalogChanged();
        res.status(204).end();
      },
    }),
  ];
}
