import type { Pool } from '../db.js';

export interface Category {
  id: number;
  slug: string;
  name: string;
  productCount: number;
}

/** All categories with their count of active products, by name. The table is small (tens of rows). */
export async function listCategories(pool: Pool): Promise<Category[]> {
  const { rows } = await pool.query<Category>(`
    SELECT c.id, c.slug, c.name,
           (SELECT count(*) FROM products p WHERE p.category_id = c.id AND p.active) AS "productCount"
      FROM categories c
     ORDER BY c.name, c.id`);
  return rows;
}
