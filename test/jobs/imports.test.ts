/**
 * Catalog imports end to end: upload through the in-process api (streamed into Postgres), run by the
 * stack's worker, status and row errors read back through the api.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bearer,
  createCatalog,
  createUser,
  startWithAdmin,
  startApi,
  unique,
  waitFor,
  type TestApi,
} from './support.js';

let api: TestApi;
let smallApi: TestApi;
let admin: { token: string };
let customer: { token: string };
let slug: string;

beforeAll(async () => {
  ({ api, admin } = await startWithAdmin());
  smallApi = await startApi({ importMaxBytes: 1_000 });
  customer = await createUser(api.pool, 'customer');
  ({ slug } = await createCatalog(api.pool, 0));
});

afterAll(async () => {
  await api?.close();
  await smallApi?.close();
});

interface ImportView {
  id: string;
  status: string;
  progress: number;
  rowsTotal: number;
  rowsApplied: number;
  rowsFailed: number;
  error: string | null;
  links: { self: string; errors: string };
}

async function upload(body: string | Buffer, contentType: string, target = api, token = admin.token) {
  return fetch(`${target.url}/api/v1/admin/imports`, {
    method: 'POST',
    headers: { ...bearer(token), 'Content-Type': contentType },
    body,
  });
}

async function finished(view: ImportView): Promise<ImportView> {
  return waitFor(`import ${view.id} finished`, async () => {
    const current = (await (
      await fetch(`${api.url}${view.links.self}`, { headers: bearer(admin.token) })
    ).json()) as ImportView;
    return current.status === 'completed' || current.status === 'failed' ? current : undefined;
  });
}

async function errorsOf(view: ImportView) {
  const response = await fetch(`${api.url}${view.links.errors}?limit=100`, { headers: bearer(admin.token) });
  return ((await response.json()) as { data: { line: number; reason: string }[] }).data;
}

const productsWithPrefix = async (prefix: string) =>
  (
    await api.pool.query<{
      sku: string;
      name: string;
      price_cents: number;
      stock: number;
      active: boolean;
      updated_at: Date;
      xmin: string;
    }>(
      `SELECT sku, name, price_cents, stock, active, updated_at, xmin::text FROM products WHERE sku LIKE $1 || '%' ORDER BY sku`,
      [prefix],
    )
  ).rows;

describe('catalog imports', () => {
  it('when a CSV has good and bad rows, then the good ones are applied and each bad one is listed by line', async () => {
    const sku = unique('imp');
    const csv = [
      'sku,category,name,price_cents,stock,active,description',
      `${sku}-1,${slug},Hammer,1299,5,true,"Steel, 500 g"`,
      `${sku}-2,${slug},Saw,abc,1,true,`,
      `${sku}-3,no-such-category,Drill,4999,1,true,`,
      `${sku}-4,${slug},"Multi`,
      `line name",100,0,false,`,
      `${sku}-5,${slug},,100,0,true,`,
      `${sku}-6,${slug},Pliers,899`,
      '',
      `${sku}-7,${slug},Level,1599,,,`,
    ].join('\n');
    const response = await upload(csv, 'text/csv');
    expect(response.status).toBe(202);
    const accepted = (await response.json()) as ImportView;
    expect(response.headers.get('location')).toBe(accepted.links.self);
    expect(accepted.status).toBe('queued');

    const done = await finished(accepted);
    expect(done).toMatchObject({ status: 'completed', progress: 100, rowsTotal: 7, rowsApplied: 3, rowsFailed: 4 });
    const errors = await errorsOf(done);
    expect(errors.map((error) => error.line)).toEqual([3, 4, 7, 8]);
    expect(errors[0]?.reason).toMatch(/^price_cents: /);
    expect(errors[1]?.reason).toBe('category: no category with slug "no-such-category"');
    expect(errors[2]?.reason).toMatch(/^name: /);
    expect(errors[3]?.reason).toBe('expected 7 fields, found 4');

    const products = await productsWithPrefix(sku);
    expect(
      products.map(({ sku: s, name, price_cents, stock, active }) => [
        s.slice(sku.length),
        name,
        price_cents,
        stock,
        active,
      ]),
    ).toEqual([
      ['-1', 'Hammer', 1299, 5, true],
      ['-4', 'Multi\nline name', 100, 0, false],
      ['-7', 'Level', 1599, 0, true],
    ]);
  });

  it('when the same file is imported twice, then the second run changes nothing', async () => {
    const sku = unique('again');
    const ndjson = [
      JSON.stringify({ sku: `${sku}-a`, category: slug, name: 'Tape', price_cents: 300 }),
      JSON.stringify({ sku: `${sku}-b`, category: slug, name: 'Glue', price_cents: 450, stock: 9, active: false }),
      '{not json',
    ].join('\n');
    const first = await finished((await (await upload(ndjson, 'application/x-ndjson')).json()) as ImportView);
    expect(first).toMatchObject({ status: 'completed', rowsApplied: 2, rowsFailed: 1 });
    const before = await productsWithPrefix(sku);

    const second = await finished((await (await upload(ndjson, 'application/x-ndjson')).json()) as ImportView);
    expect(second).toMatchObject({ status: 'completed', rowsApplied: 2, rowsFailed: 1 });
    // Same row versions (xmin) and timestamps: the upserts wrote nothing.
    expect(await productsWithPrefix(sku)).toEqual(before);
    expect(await errorsOf(second)).toEqual([{ line: 3, reason: 'not valid JSON' }]);
  });

  it('when the header names an unknown column, then the import fails with the reason and nothing is applied', async () => {
    const sku = unique('hdr');
    const view = (await (
      await upload(`sku,category,name,price\n${sku},${slug},X,1\n`, 'text/csv')
    ).json()) as ImportView;
    const done = await finished(view);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/unknown column\(s\): price/);
    expect(await productsWithPrefix(sku)).toEqual([]);
  });

  it('when the upload is too large, empty, or not CSV/NDJSON, then it is refused with 413, 400 or 415', async () => {
    const big = await upload(`sku,category,name,price_cents\n${'x,y,z,1\n'.repeat(200)}`, 'text/csv', smallApi);
    expect(big.status).toBe(413);
    expect(((await big.json()) as { maxBytes: number }).maxBytes).toBe(1_000);
    // Streamed (no Content-Length): the limit is enforced while reading.
    const streamed = await fetch(`${smallApi.url}/api/v1/admin/imports`, {
      method: 'POST',
      headers: { ...bearer(admin.token), 'Content-Type': 'text/csv' },
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 10; i += 1) controller.enqueue(new TextEncoder().encode('a,b,c,1\n'.repeat(50)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await upload('', 'text/csv')).status).toBe(400);
    const wrongType = await upload('{}', 'application/json');
    expect(wrongType.status).toBe(415);
    expect(wrongType.headers.get('accept-post')).toContain('text/csv');
    expect((await upload('a', 'text/csv', api, customer.token)).status).toBe(403);
  });

  it('when an import is unknown, then its status and errors are 404', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    expect((await fetch(`${api.url}/api/v1/admin/imports/${id}`, { headers: bearer(admin.token) })).status).toBe(404);
    expect((await fetch(`${api.url}/api/v1/admin/imports/${id}/errors`, { headers: bearer(admin.token) })).status).toBe(
      404,
    );
  });
});
