/**
 * Sales reports end to end: the in-process api accepts the request (202 + status URL), the stack's
 * worker (relay + reports queue) generates it, the api serves status and the CSV.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createCatalog, createUser, ensureFastWorker, startApi, waitFor, type TestApi } from './support.js';

let api: TestApi;
let admin: { id: number; token: string };
let customer: { id: number; token: string };
let productIds: number[];
let day: string;

/** A calendar day of this file's own (in the 1980s-1990s), so other tests' orders never fall in range. */
function privateDay(): string {
  const start = Date.UTC(1980, 0, 1);
  const offset = Math.floor(Math.random() * 7_000) * 86_400_000;
  return new Date(start + offset).toISOString().slice(0, 10);
}

const nextDay = (date: string) => new Date(Date.parse(date) + 86_400_000).toISOString().slice(0, 10);

beforeAll(async () => {
  await ensureFastWorker();
  api = await startApi();
  admin = await createUser(api.pool, 'admin');
  customer = await createUser(api.pool, 'customer');
  ({ productIds } = await createCatalog(api.pool, 2, 250));
  day = privateDay();
  // Day 1: orders 1..3; day 2: order 4. Order 3 has both products; a cancelled order is not a sale.
  const orders: [string, number, [number, number][]][] = [
    [`${day}T08:00:00Z`, 500, [[0, 2]]],
    [`${day}T09:00:00Z`, 250, [[1, 1]]],
    [
      `${day}T23:59:59Z`,
      1_250,
      [
        [0, 1],
        [1, 4],
      ],
    ],
    [`${nextDay(day)}T00:00:00Z`, 750, [[1, 3]]],
  ];
  for (const [createdAt, total, items] of orders) {
    const { rows } = await api.pool.query<{ id: number }>(
      `INSERT INTO orders (user_id, total_cents, created_at) VALUES ($1, $2, $3) RETURNING id`,
      [customer.id, total, createdAt],
    );
    for (const [product, quantity] of items) {
      await api.pool.query(
        `INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents) VALUES ($1, $2, $3, 250)`,
        [rows[0]?.id, productIds[product], quantity],
      );
    }
  }
  await api.pool.query(
    `INSERT INTO orders (user_id, total_cents, status, created_at) VALUES ($1, 9999, 'cancelled', $2)`,
    [customer.id, `${day}T10:00:00Z`],
  );
});

afterAll(async () => {
  await api?.close();
});

async function request(body: unknown, token = admin.token) {
  return fetch(`${api.url}/api/v1/admin/reports`, {
    method: 'POST',
    headers: { ...bearer(token), 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function completed(location: string) {
  return waitFor('report completed', async () => {
    const report = (await (await fetch(`${api.url}${location}`, { headers: bearer(admin.token) })).json()) as {
      status: string;
      progress: number;
      links: { download: string | null };
      rowCount: number | null;
    };
    if (report.status === 'failed') throw new Error(`report failed: ${JSON.stringify(report)}`);
    return report.status === 'completed' ? report : undefined;
  });
}

describe('sales reports', () => {
  it('when an admin requests a daily report, then it is accepted at once and its CSV is downloadable when done', async () => {
    const response = await request({ from: day, to: nextDay(day), groupBy: 'day' });
    expect(response.status).toBe(202);
    const accepted = (await response.json()) as { id: string; status: string; links: { self: string; download: null } };
    expect(accepted.status).toBe('queued');
    expect(response.headers.get('location')).toBe(accepted.links.self);
    expect(accepted.links.download).toBeNull();

    const report = await completed(accepted.links.self);
    expect(report.progress).toBe(100);
    expect(report.rowCount).toBe(2);
    expect(report.links.download).toBe(`${accepted.links.self}/download`);

    const download = await fetch(`${api.url}${report.links.download}`, { headers: bearer(admin.token) });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(download.headers.get('content-disposition')).toMatch(/attachment; filename="sales-report-/);
    expect(await download.text()).toBe(
      `day,orders,items,revenue_cents\r\n${day},3,8,2000\r\n${nextDay(day)},1,3,750\r\n`,
    );
  });

  it('when grouped by product, then each product counts each order once with its items and revenue', async () => {
    const accepted = (await (await request({ from: day, to: nextDay(day), groupBy: 'product' })).json()) as {
      links: { self: string };
    };
    const report = await completed(accepted.links.self);
    const csv = await (await fetch(`${api.url}${report.links.download}`, { headers: bearer(admin.token) })).text();
    const [p0, p1] = productIds as [number, number];
    const lines = csv.trim().split('\r\n');
    expect(lines[0]).toBe('product_id,sku,name,orders,items,revenue_cents');
    expect(lines.slice(1).map((line) => line.split(',').filter((_, i) => i !== 1 && i !== 2))).toEqual([
      [String(p0), '2', '3', '750'],
      [String(p1), '3', '8', '2000'],
    ]);
  });

  it('when the range is reversed or the grouping unknown, then it is a 422 naming the fields', async () => {
    const response = await request({ from: nextDay(day), to: day, groupBy: 'hour' });
    expect(response.status).toBe(422);
    const problem = (await response.json()) as { errors: { path: string }[] };
    expect(problem.errors.map((error) => error.path).sort()).toEqual(['body.groupBy']);
    const reversed = await request({ from: nextDay(day), to: day });
    expect(((await reversed.json()) as { errors: { path: string }[] }).errors.map((error) => error.path)).toEqual([
      'body.to',
    ]);
  });

  it('when a report is not completed yet, then its download is a 409 and an unknown id a 404', async () => {
    const { rows } = await api.pool.query<{ id: string }>(
      `INSERT INTO reports (requested_by, params, status) VALUES ($1, $2, 'running') RETURNING id`,
      [admin.id, { from: day, to: day, groupBy: 'day' }],
    );
    const id = rows[0]?.id as string;
    const early = await fetch(`${api.url}/api/v1/admin/reports/${id}/download`, { headers: bearer(admin.token) });
    expect(early.status).toBe(409);
    expect(early.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const unknown = await fetch(`${api.url}/api/v1/admin/reports/00000000-0000-4000-8000-000000000000`, {
      headers: bearer(admin.token),
    });
    expect(unknown.status).toBe(404);
  });

  it('when someone who is not an admin asks, then it is a 401 without a token and a 403 for a customer', async () => {
    const anonymous = await fetch(`${api.url}/api/v1/admin/reports`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ from: day, to: day }),
    });
    expect(anonymous.status).toBe(401);
    expect((await request({ from: day, to: day }, customer.token)).status).toBe(403);
  });
});
