/**
 * Admin writes to the catalog. Every successful write invalidates the catalog cache before the
 * response goes out, so the next public read on any replica sees it (core/src/cache/catalog-invalidator.ts).
 * Each write that takes effect leaves its audit row, in its own transaction (core/src/audit/audit-log.ts).
 */
import {
  createCategory,
  createProduct,
  deactivateProduct,
  updateCategory,
  updateProduct,
  type AuditAction,
  type AuditEntry,
  type CatalogInvalidator,
  type CategoryWriteResult,
  type Pool,
  type PoolClient,
  type ProductWriteResult,
} from '@stack/core';
import type { Request } from 'express';
import { auditedFor } from '../audit/actor.js';
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

/** What a catalog write records in the audit trail: its action, the row it targets (when known before) and the fields set. */
interface CatalogAudit {
  action: AuditAction;
  id?: number;
  fields?: object;
}

/** The audit entry of a catalog write that took effect (on row `id`); none for a refused one (undefined). */
function catalogEntry(targetType: 'category' | 'product', audit: CatalogAudit, id: number | undefined) {
  if (id === undefined) return undefined;
  const details = audit.fields ? { fields: Object.keys(audit.fields).sort() } : {};
  return { action: audit.action, targetType, targetId: id, details } satisfies AuditEntry;
}

export function adminCatalogModule(deps: AdminCatalogDeps): ApiModule {
  return { prefix: '/api/v1', routes: [...categoryRoutes(deps), ...productRoutes(deps)] };
}

function categoryRoutes({ pool, catalog }: AdminCatalogDeps): ApiRoute[] {
  /** The write and its audit row in one transaction; then the cache is told, or the refusal becomes its problem. */
  const writeCategory = async (
    req: Request,
    audit: CatalogAudit,
    write: (tx: PoolClient) => Promise<CategoryWriteResult>,
  ) => {
    const result = await auditedFor(pool, req)(write, (done) =>
      catalogEntry('category', audit, done.ok ? done.category.id : undefined),
    );
    if (result.ok) {
      await catalog.catalogChanged();
      return result.category;
    }
    switch (result.reason) {
      case 'not-found':
        throw new AppError('notFound', `No category with id ${String(audit.id)}.`);
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
      handler: async ({ body }, req, res) => {
        const audit = { action: 'category.create', fields: body } as const;
        res.status(201).json(await writeCategory(req, audit, (tx) => createCategory(tx, body)));
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
      handler: async ({ params, body }, req, res) => {
        const audit = { action: 'category.update', id: params.id, fields: body } as const;
        res.json(await writeCategory(req, audit, (tx) => updateCategory(tx, params.id, body)));
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
      handler: async ({ params }, req, res) => {
        const audit = { action: 'category.deactivate', id: params.id } as const;
        await writeCategory(req, audit, (tx) => updateCategory(tx, params.id, { active: false }));
        res.status(204).end();
      },
    }),
  ];
}

function productRoutes({ pool, catalog }: AdminCatalogDeps): ApiRoute[] {
  /** The write and its audit row in one transaction; then the cache is told, or the refusal becomes its problem. */
  const writeProduct = async (
    req: Request,
    audit: CatalogAudit,
    write: (tx: PoolClient) => Promise<ProductWriteResult>,
  ) => {
    const result = await auditedFor(pool, req)(write, (done) =>
      catalogEntry('product', audit, done.ok ? done.product.id : undefined),
    );
    if (result.ok) {
      await catalog.catalogChanged();
      return result.product;
    }
    switch (result.reason) {
      case 'not-found':
        throw new AppError('notFound', `No product with id ${String(audit.id)}.`);
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
      rulesBeyondSchema: '`categoryId` must be an active category.',
      summary: 'Create a product',
      body: productCreateSchema,
      // A description holds up to 5,000 characters, up to 4 bytes each in UTF-8.
      bodyLimit: '64kb',
      responses: {
        201: { description: 'Created.', schema: adminProductSchema },
        409: { description: 'Another product has this SKU.' },
      },
      handler: async ({ body }, req, res) => {
        const audit = { action: 'product.create', fields: body } as const;
        res.status(201).json(await writeProduct(req, audit, (tx) => createProduct(tx, body)));
      },
    }),
    route({
      method: 'patch',
      path: '/admin/products/:id',
      operationId: 'updateProduct',
      rulesBeyondSchema: '`categoryId` must be an active category.',
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
      handler: async ({ params, body }, req, res) => {
        const audit = { action: 'product.update', id: params.id, fields: body } as const;
        res.json(await writeProduct(req, audit, (tx) => updateProduct(tx, params.id, body)));
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
      handler: async ({ params }, req, res) => {
        const audit = { action: 'product.deactivate', id: params.id } as const;
        const found = await auditedFor(pool, req)(
          (tx) => deactivateProduct(tx, params.id),
          (exists) => catalogEntry('product', audit, exists ? params.id : undefined),
        );
        if (!found) throw new AppError('notFound', `No product with id ${params.id}.`);
        await catalog.catalogChanged();
        res.status(204).end();
      },
    }),
  ];
}
