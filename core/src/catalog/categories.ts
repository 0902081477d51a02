/**
 * Categories: a small table (tens of rows). The public list shows active categories only; admins
 * create, rename and (de)activate them. Categories are never deleted: products and past orders
 * reference them.
 */
import { withTransaction, type Pool, type PoolClient, type Queryable } from '../db.js';
import { isUniqueViolation } from './pg-errors.js';

export interface Category {
  id: number;
  slug: string;
  name: string;
  productCount: number;
}

export interface AdminCategory {
  id: number;
  slug: string;
  name: string;
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface CategoryInput {
  slug: string;
  name: string;
  active?: boolean | undefined;
}

export type CategoryPatch = Partial<CategoryInput>;

export type CategoryWriteResult =
  | { ok: true; category: AdminCategory }
  | { ok: false; reason: 'not-found' }
  | { ok: false; reason: 'slug-taken' }
  | { ok: false; reason: 'has-active-products'; activeProducts: number };

const ADMIN_COLUMNS = `id, slug, name, active, created_at AS "createdAt", updated_at AS "updatedAt"`;

/**
 * Active categories with their count of active products, by name. Each count is an index-only scan
 * of products_active_category_id_idx; the result is served from the response cache (core/src/cache),
 * so the counting runs once per catalog change, not per request.
 */
export const CATEGORY_LIST_SQL = `
    SELECT c.id, c.slug, c.name,
           (SELECT count(*) FROM products p WHERE p.category_id = c.id AND p.active) AS "productCount"
      FROM categories c
     WHERE c.active
     ORDER BY c.name, c.id`;

export async function listCategories(pool: Pool): Promise<Category[]> {
  const { rows } = await pool.query<Category>(CATEGORY_LIST_SQL);
  return rows;
}

/** The id of the active category with this slug (the public product filter), or undefined. */
export async function findActiveCategoryId(pool: Pool, slug: string): Promise<number | undefined> {
  const { rows } = await pool.query<{ id: number }>('SELECT id FROM categories WHERE slug = $1 AND active', [slug]);
  return rows[0]?.id;
}

export async function createCategory(db: Queryable, input: CategoryInput): Promise<CategoryWriteResult> {
  try {
    return await withTransaction(db, async (client) => {
      const { rows } = await client.query<AdminCategory>(
        `INSERT INTO categories (slug, name, active) VALUES ($1, $2, $3) RETURNING ${ADMIN_COLUMNS}`,
        [input.slug, input.name, input.active ?? true],
      );
      return { ok: true, category: rows[0] as AdminCategory };
    });
  } catch (error) {
    if (isUniqueViolation(error, 'categories_slug_key')) return { ok: false, reason: 'slug-taken' };
    throw error;
  }
}

/**
 * Changes the given fields. Deactivating a category that still has active products is refused:
 * the admin moves or deactivates those first, so the public list never shows a product whose
 * category is hidden. The row lock (FOR UPDATE on the category, FOR SHARE taken by product writes)
 * keeps a concurrent product write from slipping in between the check and the update.
 */
export async function updateCategory(db: Queryable, id: number, patch: CategoryPatch): Promise<CategoryWriteResult> {
  try {
    return await withTransaction(db, (client) => changeCategory(client, id, patch));
  } catch (error) {
    if (isUniqueViolation(error, 'categories_slug_key')) return { ok: false, reason: 'slug-taken' };
    throw error;
  }
}

async function changeCategory(client: PoolClient, id: number, patch: CategoryPatch): Promise<CategoryWriteResult> {
  const current = await client.query<{ active: boolean }>('SELECT active FROM categories WHERE id = $1 FOR UPDATE', [
    id,
  ]);
  if (current.rows.length === 0) return { ok: false, reason: 'not-found' };
  if (patch.active === false && current.rows[0]?.active) {
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM products WHERE category_id = $1 AND active',
      [id],
    );
    const activeProducts = rows[0]?.n ?? 0;
    if (activeProducts > 0) return { ok: false, reason: 'has-active-products', activeProducts };
  }
  const { rows } = await client.query<AdminCategory>(
    `UPDATE categories
        SET slug = coalesce($2, slug), name = coalesce($3, name), active = coalesce($4, active), updated_at = now()
      WHERE id = $1
      RETURNING ${ADMIN_COLUMNS}`,
    [id, patch.slug ?? null, patch.name ?? null, patch.active ?? null],
  );
  return { ok: true, category: rows[0] as AdminCategory };
}
