import { z } from 'zod';
import {
  cursorQuery,
  idString,
  INT4_MAX,
  limitQuery,
  named,
  nonBlankText,
  storedText,
  timestamp,
  uintString,
} from '../http/schemas.js';

const slug = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be lower-case words joined by single hyphens');
const cents = z.number().int().min(0).max(2_147_483_647);
const stock = z.number().int().min(0).max(2_147_483_647);

// ---- public ------------------------------------------------------------------------------------------

export const categorySchema = named(
  'Category',
  z.strictObject({
    id: z.number().int(),
    slug: z.string(),
    name: z.string(),
    productCount: z.number().int().describe('Active products in this category.'),
  }),
);
export const categoryListSchema = named('CategoryList', z.strictObject({ data: z.array(categorySchema) }));

export const productSummarySchema = named(
  'ProductSummary',
  z.strictObject({
    id: z.number().int(),
    sku: z.string(),
    name: z.string(),
    priceCents: z.number().int(),
    categoryId: z.number().int(),
  }),
);
export const productListSchema = named(
  'ProductList',
  z.strictObject({
    data: z.array(productSummarySchema),
    nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page.'),
  }),
);
/** What a public product shows; the admin view adds what only admins see. */
const productShape = {
  id: z.number().int(),
  sku: z.string(),
  name: z.string(),
  priceCents: z.number().int(),
  categoryId: z.number().int(),
  description: z.string(),
  stock: z.number().int(),
  updatedAt: timestamp,
};
export const productSchema = named('Product', z.strictObject(productShape));

export const productListQuery = z
  .strictObject({
    category: slug.optional().describe('Slug of an active category (see GET /api/v1/categories).'),
    min_price: uintString(INT4_MAX).optional().describe('Lowest price in cents, inclusive.'),
    max_price: uintString(INT4_MAX).optional().describe('Highest price in cents, inclusive.'),
    q: nonBlankText(200)
      .optional()
      .describe('Full-text search in names and descriptions (English stemming; "phrases", -exclusions, or).'),
    cursor: cursorQuery.describe('Opaque cursor from the previous page (`nextCursor`).'),
    limit: limitQuery.describe('Page size, 1 to 100 (default 20).'),
  })
  .superRefine((query, ctx) => {
    if (query.min_price !== undefined && query.max_price !== undefined && query.min_price > query.max_price) {
      ctx.addIssue({ code: 'custom', path: ['max_price'], message: 'must not be below min_price' });
    }
  });

// ---- admin -------------------------------------------------------------------------------------------

export const adminCategorySchema = named(
  'AdminCategory',
  z.strictObject({
    id: z.number().int(),
    slug: z.string(),
    name: z.string(),
    active: z.boolean(),
    createdAt: timestamp,
    updatedAt: timestamp,
  }),
);
export const categoryCreateSchema = named(
  'CategoryCreate',
  z.strictObject({ slug, name: nonBlankText(200), active: z.boolean().optional() }),
);
export const categoryPatchSchema = named(
  'CategoryPatch',
  z
    .strictObject({
      slug: slug.optional(),
      name: nonBlankText(200).optional(),
      active: z.boolean().optional(),
    })
    .refine((patch) => Object.keys(patch).length > 0, 'must change at least one field')
    // The refinement in the document's terms, so clients and fuzzers see it.
    .meta({ minProperties: 1 }),
  'Fields to change. Setting `active: false` is refused (409) while the category has active products.',
);

export const adminProductSchema = named(
  'AdminProduct',
  z.strictObject({ ...productShape, active: z.boolean(), createdAt: timestamp }),
);
const productFields = {
  sku: nonBlankText(64),
  categoryId: z.number().int().min(1).max(2_147_483_647),
  name: nonBlankText(200),
  description: storedText(5_000),
  priceCents: cents,
  stock,
  active: z.boolean(),
};
export const productCreateSchema = named(
  'ProductCreate',
  z.strictObject({
    ...productFields,
    description: productFields.description.optional(),
    active: productFields.active.optional(),
  }),
);
export const productPatchSchema = named(
  'ProductPatch',
  z
    .strictObject(productFields)
    .partial()
    .refine((patch) => Object.keys(patch).length > 0, 'must change at least one field')
    // The refinement in the document's terms, so clients and fuzzers see it.
    .meta({ minProperties: 1 }),
);

export const productIdParams = z.strictObject({ id: idString() });
