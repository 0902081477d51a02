/**
 * The naive reference of `make bench`: the architecture of the documents that inspired this project, as its own
 * small program (not the stack with features switched off). One Express process, one pg pool of 50, no cache of
 * any kind, no nginx in front, OFFSET pagination, every response's JSON built per request, and a schema of its own
 * (`naive`, a copy of the same data made by bench/lib/data.ts) that has only the usual single-column indexes:
 * products(category_id), products(active), plus the primary keys and the foreign keys it filters by
 * (orders.user_id, order_items.order_id) and the unique token hash.
 *
 * The queries are written sensibly (no N+1, parameters, one transaction per order): what is naive is the
 * architecture, not the code. The routes and JSON shapes mirror the stack's, so the same workload runs against
 * both; the only difference in the URLs is `offset=` where the stack takes a keyset `cursor=`.
 *
 *   DATABASE_URL=... API_TOKEN_PEPPER=... PORT=... node bench/naive/server.ts
 */
import { createHmac } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import pg from 'pg';

const databaseUrl = process.env.DATABASE_URL;
const pepper = process.env.API_TOKEN_PEPPER;
if (!databaseUrl || !pepper) throw new Error('DATABASE_URL and API_TOKEN_PEPPER are required');

// pg returns bigint (orders.id) as text unless told otherwise; the stack answers numbers.
pg.types.setTypeParser(20, (value) => Number(value));

const pool = new pg.Pool({
  connectionString: databaseUrl,
  max: 50,
  application_name: 'naive',
  options: '-c search_path=naive',
});
pool.on('error', (error) => console.error('pool error', error.message));

const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: '100kb' }));

const toInt = (value: unknown, fallback: number, max = 2_147_483_647) => {
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 && n <= max ? n : fallback;
};

interface AuthedRequest extends Request {
  userId?: number;
}

/** Token lookup on every request (no cache): HMAC of the bearer token, as the stack stores it. */
async function requireCustomer(req: AuthedRequest, res: Response, next: NextFunction): Promise<void> {
  const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  if (!match?.[1]) {
    res.status(401).json({ error: 'unauthorized' });
    return;
  }
  const hash = createHmac('sha256', pepper as string)
    .update(match[1])
    .digest();
  const { rows } = await pool.query<{ user_id: number }>(
    `SELECT t.user_id FROM api_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.role = 'customer'`,
    [hash],
  );
  if (!rows[0]) {
    res.status(401).json({ error: 'unauthorized' });
    return;
  }
  req.userId = rows[0].user_id;
  next();
}

app.get('/api/v1/categories', async (_req, res) => {
  const { rows } = await pool.query(
    `SELECT c.id, c.slug, c.name,
            (SELECT count(*)::int FROM products p WHERE p.category_id = c.id AND p.active) AS "productCount"
       FROM categories c ORDER BY c.name`,
  );
  res.json({ data: rows });
});

app.get('/api/v1/products', async (req, res) => {
  const limit = Math.min(100, Math.max(1, toInt(req.query.limit, 20)));
  const offset = toInt(req.query.offset, 0);
  const where = ['p.active = true'];
  const values: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    values.push(value);
    where.push(sql.replace('?', `$${values.length}`));
  };
  if (typeof req.query.category === 'string') add('c.slug = ?', req.query.category);
  if (req.query.min_price !== undefined) add('p.price_cents >= ?', toInt(req.query.min_price, 0));
  if (req.query.max_price !== undefined) add('p.price_cents <= ?', toInt(req.query.max_price, 2_147_483_647));
  if (typeof req.query.q === 'string' && req.query.q !== '') {
    // Every word must appear in the name or the description: the usual ILIKE search, no text index.
    for (const word of req.query.q.split(/\s+/).filter(Boolean)) {
      values.push(`%${word}%`);
      where.push(`(p.name ILIKE $${values.length} OR p.description ILIKE $${values.length})`);
    }
  }
  values.push(limit, offset);
  const { rows } = await pool.query(
    `SELECT p.id, p.sku, p.name, p.price_cents AS "priceCents", p.category_id AS "categoryId"
       FROM products p JOIN categories c ON c.id = p.category_id
      WHERE ${where.join(' AND ')}
      ORDER BY p.id
      LIMIT $${values.length - 1} OFFSET $${values.length}`,
    values,
  );
  res.json({ data: rows, offset, limit });
});

app.get('/api/v1/products/:id', async (req, res) => {
  const { rows } = await pool.query(
    `SELECT id, sku, name, price_cents AS "priceCents", category_id AS "categoryId", description, stock,
            updated_at AS "updatedAt"
       FROM products WHERE id = $1 AND active = true`,
    [toInt(req.params.id, 0)],
  );
  if (!rows[0]) {
    res.status(404).json({ error: 'not found' });
    return;
  }
  res.json(rows[0]);
});

async function loadItems(orderIds: number[]) {
  const { rows } = await pool.query<{ orderId: number; productId: number; quantity: number; unitPriceCents: number }>(
    `SELECT order_id AS "orderId", product_id AS "productId", quantity, unit_price_cents AS "unitPriceCents"
       FROM order_items WHERE order_id = ANY($1::bigint[]) ORDER BY order_id, product_id`,
    [orderIds],
  );
  const byOrder = new Map<number, { productId: number; quantity: number; unitPriceCents: number }[]>();
  for (const { orderId, ...item } of rows) byOrder.set(orderId, [...(byOrder.get(orderId) ?? []), item]);
  return byOrder;
}

app.get('/api/v1/orders', requireCustomer, async (req: AuthedRequest, res) => {
  const limit = Math.min(100, Math.max(1, toInt(req.query.limit, 20)));
  const offset = toInt(req.query.offset, 0);
  const { rows } = await pool.query<{ id: number }>(
    `SELECT id, status, total_cents AS "totalCents", created_at AS "createdAt"
       FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2 OFFSET $3`,
    [req.userId, limit, offset],
  );
  const items = await loadItems(rows.map((row) => row.id));
  res.json({ data: rows.map((row) => ({ ...row, items: items.get(row.id) ?? [] })), offset, limit });
});

app.get('/api/v1/orders/:id', requireCustomer, async (req: AuthedRequest, res) => {
  const { rows } = await pool.query<{ id: number }>(
    `SELECT id, status, total_cents AS "totalCents", created_at AS "createdAt"
       FROM orders WHERE id = $1 AND user_id = $2`,
    [toInt(req.params.id, 0, Number.MAX_SAFE_INTEGER), req.userId],
  );
  if (!rows[0]) {
    res.status(404).json({ error: 'not found' });
    return;
  }
  const items = await loadItems([rows[0].id]);
  res.json({ ...rows[0], items: items.get(rows[0].id) ?? [] });
});

/** Read, check, decrement and insert in one transaction (row locks, so concurrent orders cannot oversell). */
app.post('/api/v1/orders', requireCustomer, async (req: AuthedRequest, res) => {
  const lines = (req.body?.items ?? []) as { productId: number; quantity: number }[];
  if (!Array.isArray(lines) || lines.length === 0) {
    res.status(400).json({ error: 'items required' });
    return;
  }
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const ids = lines.map((line) => line.productId);
    const { rows: products } = await client.query<{ id: number; price_cents: number; stock: number }>(
      'SELECT id, price_cents, stock FROM products WHERE id = ANY($1::int[]) AND active = true ORDER BY id FOR UPDATE',
      [ids],
    );
    const byId = new Map(products.map((product) => [product.id, product]));
    const short = lines.filter((line) => (byId.get(line.productId)?.stock ?? 0) < line.quantity);
    if (short.length > 0) {
      await client.query('ROLLBACK');
      res.status(409).json({ error: 'insufficient stock', items: short });
      return;
    }
    const total = lines.reduce((sum, line) => sum + line.quantity * (byId.get(line.productId)?.price_cents ?? 0), 0);
    const { rows: inserted } = await client.query<{ id: number; status: string; createdAt: Date }>(
      `INSERT INTO orders (user_id, status, total_cents) VALUES ($1, 'paid', $2)
       RETURNING id, status, created_at AS "createdAt"`,
      [req.userId, total],
    );
    const order = inserted[0] as { id: number; status: string; createdAt: Date };
    for (const line of lines) {
      await client.query('UPDATE products SET stock = stock - $2, updated_at = now() WHERE id = $1', [
        line.productId,
        line.quantity,
      ]);
      await client.query(
        'INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents) VALUES ($1, $2, $3, $4)',
        [order.id, line.productId, line.quantity, byId.get(line.productId)?.price_cents ?? 0],
      );
    }
    await client.query('COMMIT');
    const items = lines.map((line) => ({
      productId: line.productId,
      quantity: line.quantity,
      unitPriceCents: byId.get(line.productId)?.price_cents ?? 0,
    }));
    res.status(201).json({ ...order, totalCents: total, items });
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
});

app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
  console.error(error.message);
  res.status(500).json({ error: 'internal error' });
});

const port = Number(process.env.PORT ?? 3999);
const server = app.listen(port, '127.0.0.1', () => console.log(`naive reference listening on 127.0.0.1:${port}`));
// Longer than any client keep-alive the load generators use, as the stack sets it.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

const stop = () => {
  server.close();
  void pool.end();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
