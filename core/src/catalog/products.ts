/**
 * Products: the public list and detail (active products only) and the admin writes.
 *
 * The list is keyset-paginated by id, the one stable order that every filter combination can use
 * with the partial indexes of db/init/001_catalog.sql: `active AND id > $after ORDER BY id` walks
 * products_active_id_idx, a category filter walks products_active_category_id_idx, and text search
 * can use the GIN index products_active_search_idx. A deep page costs the same as the first (no
 * OFFSET). The EXPLAIN suite in test/slow checks those plans on 1,000,000 rows.
 */
import { withTransaction, type Pool, type PoolClient, type Queryable } from '../db.js';
import { isUniqueViolation } from './pg-errors.js';

/** One row of the public list: no description and no stock, so orders never invalidate list pages. */
export interface ProductSummary {
  id: number;
  sku: string;
  name: string;
  priceCents: number;
  categoryId: number;
}

/** The public detail of an active product. */
export interface Product extends ProductSummary {
  description: string;
  stock: number;
  updatedAt: Date;
}

export interface AdminProduct extends Product {
  active: boolean;
  createdAt: Date;
}

export interface ProductListFilter {
  categoryId?: number | undefined;
  minPriceCents?: number | undefined;
  maxPriceCents?: number | undefined;
  /** Web-search syntax (`websearch_to_tsquery`): words, "quoted phrases", -excluded, or. */
  search?: string | undefined;
  /** Keyset cursor: only products with a larger id. */
  afterId?: number | undefined;
  limit: number;
}

export interface ProductPage {
  items: ProductSummary[];
  /** The last id of this page when more products follow, else null. */
  nextAfterId: number | null;
}

export interface ProductInput {
  sku: string;
  categoryId: number;
  name: string;
  description?: string | undefined;
  priceCents: number;
  stock: number;
  active?: boolean | undefined;
}

export type ProductPatch = Partial<ProductInput>;

export type ProductWriteResult =
  { ok: true; product: AdminProduct } | { ok: false; reason: 'not-found' | 'sku-taken' | 'category-unavailable' };

const SUMMARY_COLUMNS = `id, sku, name, price_cents AS "priceCents", category_id AS "categoryId"`;
const DETAIL_COLUMNS = `${SUMMARY_COLUMNS}, description, stock, updated_at AS "updatedAt"`;
const ADMIN_COLUMNS = `${DETAIL_COLUMNS}, active, created_at AS "createdAt"`;

/**
 * Text search reads this many products in id order at most before it switches to the GIN index
 * (see productListQueries).
 */
export const SEARCH_WINDOW_ROWS = 5_000;

export interface ListQuery {
  /** What this step is, for the EXPLAIN tests' messages. */
  step: 'list' | 'search-window' | 'search-index';
  text: string;
  values: unknown[];
}

/**
 * The queries that answer a list filter, tried in order until one returns a full page (limit + 1
 * rows). Only the conditions that are set appear, so each combination gets its own plan with the
 * right index (a catch-all `$1 IS NULL OR ...` would defeat the planner). Exported for the EXPLAIN
 * tests, which check the exact SQL the api runs.
 *
 * Without text search: one keyset query in id order (products_active_id_idx, or
 * products_active_category_id_idx with a category).
 *
 * With text search, two steps, because neither plan alone is safe on 1,000,000 rows: walking the
 * id index and filtering is instant for common words but reads the whole table for a rare or
 * absent word (400 ms measured), which the planner cannot foresee when its word statistics are
 * coarse; the GIN index is instant for rare words but fetches and sorts every match of a common
 * one (80-130 ms). So: (1) the first SEARCH_WINDOW_ROWS candidates in id order, filtered, which
 * is a complete answer whenever it yields a full page (any word in more than ~0.4 % of products);
 * otherwise (2) the GIN index, whose cost is then bounded by the word's few matches. `ORDER BY
 * id + 0` keeps the planner from walking the id index in step 2.
 */
export function productListQueries(filter: ProductListFilter): ListQuery[] {
  const values: unknown[] = [];
  const param = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  const conditions = ['active'];
  if (filter.categoryId !== undefined) conditions.push(`category_id = ${param(filter.categoryId)}`);
  if (filter.minPriceCents !== undefined) conditions.push(`price_cents >= ${param(filter.minPriceCents)}`);
  if (filter.maxPriceCents !== undefined) conditions.push(`price_cents <= ${param(filter.maxPriceCents)}`);
  if (filter.afterId !== undefined) conditions.push(`id > ${param(filter.afterId)}`);
  // One row more than the page tells whether another page follows, without a count.
  const limit = param(filter.limit + 1);
  const where = conditions.join(' AND ');
  if (filter.search === undefined) {
    return [
      {
        step: 'list',
        text: `SELECT ${SUMMARY_COLUMNS} FROM products WHERE ${where} ORDER BY id LIMIT ${limit}`,
        values,
      },
    ];
  }
  const query = param(filter.search);
  const matches = `search @@ websearch_to_tsquery('english', ${query})`;
  const indexValues = [...values];
  // Last, so the second step binds the same parameters without it (Postgres refuses unused ones).
  const window = param(SEARCH_WINDOW_ROWS);
  return [
    {
      step: 'search-window',
      text: `SELECT ${SUMMARY_COLUMNS}
               FROM (SELECT id, sku, name, price_cents, category_id, search FROM products
                      WHERE ${where} ORDER BY id LIMIT ${window}) AS candidates
              WHERE ${matches} ORDER BY id LIMIT ${limit}`,
      values,
    },
    {
      step: 'search-index',
      text: `SELECT ${SUMMARY_COLUMNS} FROM products WHERE ${where} AND ${matches} ORDER BY id + 0 LIMIT ${limit}`,
      values: indexValues,
    },
  ];
}

export async function listProducts(pool: Pool, filter: ProductListFilter): Promise<ProductPage> {
  let rows: ProductSummary[] = [];
  for (const query of productListQueries(filter)) {
    ({ rows } = await pool.query<ProductSummary>(query.text, query.values));
    if (rows.length > filter.limit) break;
  }
  const more = rows.length > filter.limit;
  const items = more ? rows.slice(0, filter.limit) : rows;
  return { items, nextAfterId: more ? (items[items.length - 1]?.id ?? null) : null };
}

/** An active product by id (the public detail), or undefined for unknown and inactive ones alike. */
export async function getActiveProduct(pool: Pool, id: number): Promise<Product | undefined> {
  const { rows } = await pool.query<Product>(`SELECT ${DETAIL_COLUMNS} FROM products WHERE id = $1 AND active`, [id]);
  return rows[0];
}

export async function createProduct(db: Queryable, input: ProductInput): Promise<ProductWriteResult> {
  return inTransaction(db, async (client) => {
    const active = input.active ?? true;
    if (!(await lockUsableCategory(client, input.categoryId))) return { ok: false, reason: 'category-unavailable' };
    const { rows } = await client.query<AdminProduct>(
      `INSERT INTO products (sku, category_id, name, description, price_cents, stock, active)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       RETURNING ${ADMIN_COLUMNS}`,
      [input.sku, input.categoryId, input.name, input.description ?? '', input.priceCents, input.stock, active],
    );
    return { ok: true, product: rows[0] as AdminProduct };
  });
}

/**
 * Changes the given fields. A product that is active after the change must sit in an active
 * category (moving it into, or reactivating it in, an inactive one is refused).
 */
export async function updateProduct(db: Queryable, id: number, patch: ProductPatch): Promise<ProductWriteResult> {
  return inTransaction(db, async (client) => {
    const current = await client.query<{ categoryId: number; active: boolean }>(
      'SELECT category_id AS "categoryId", active FROM products WHERE id = $1 FOR UPDATE',
      [id],
    );
    const row = current.rows[0];
    if (!row) return { ok: false, reason: 'not-found' };
    const categoryId = patch.categoryId ?? row.categoryId;
    const active = patch.active ?? row.active;
    const categoryChecked = patch.categoryId !== undefined || patch.active === true;
    if (active && categoryChecked && !(await lockUsableCategory(client, categoryId))) {
      return { ok: false, reason: 'category-unavailable' };
    }
    const { rows } = await client.query<AdminProduct>(
      `UPDATE products
          SET sku = coalesce($2, sku), category_id = coalesce($3, category_id), name = coalesce($4, name),
              description = coalesce($5, description), price_cents = coalesce($6, price_cents),
              stock = coalesce($7, stock), active = coalesce($8, active), updated_at = now()
        WHERE id = $1
        RETURNING ${ADMIN_COLUMNS}`,
      [
        id,
        patch.sku ?? null,
        patch.categoryId ?? null,
        patch.name ?? null,
        patch.description ?? null,
        patch.priceCents ?? null,
        patch.stock ?? null,
        patch.active ?? null,
      ],
    );
    return { ok: true, product: rows[0] as AdminProduct };
  });
}

/** Deactivates (never deletes: orders reference products). True when the product exists. */
export async function deactivateProduct(db: Queryable, id: number): Promise<boolean> {
  const { rowCount } = await db.query(
    'UPDATE products SET active = false, updated_at = now() WHERE id = $1 AND active',
    [id],
  );
  if ((rowCount ?? 0) > 0) return true;
  const { rows } = await db.query('SELECT 1 FROM products WHERE id = $1', [id]);
  return rows.length > 0;
}

/**
 * True when the category exists and is active; holds a share lock on it until commit so a
 * concurrent deactivation (which takes FOR UPDATE) waits for this product write and then sees it.
 */
async function lockUsableCategory(client: PoolClient, categoryId: number): Promise<boolean> {
  const { rows } = await client.query('SELECT 1 FROM categories WHERE id = $1 AND active FOR SHARE', [categoryId]);
  return rows.length > 0;
}

/** `work` in a transaction (or in the caller's: db.ts); a taken SKU is a result, not an error. */
async function inTransaction(
  db: Queryable,
  work: (client: PoolClient) => Promise<ProductWriteResult>,
): Promise<ProductWriteResult> {
  try {
    // A refused write has written nothing; committing it only releases its locks.
    return await withTransaction(db, work);
  } catch (error) {
    if (isUniqueViolation(error, 'products_sku_key')) return { ok: false, reason: 'sku-taken' };
    throw error;
  }
}
