/**
 * What a new user does first, on a real Docker engine, in a copy of the repository without .env: `make up` (run by
 * the global set-up), a catalog read through nginx, the docs page, `make migrate` twice, `make seed`, and an order
 * placed with the development token that .env.example documents.
 */
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { expect, inject, it } from 'vitest';
import { launchChromium, screenshotPath } from '../support/browser.js';
import { describeStack, stack } from '../support/stack.js';
import { make } from './support/compose.js';

const env = () => inject('stackEnv');

describeStack('make up on a Docker engine', () => {
  it('when make up runs in a fresh clone, then every service is healthy and the URL is printed', async () => {
    const output = readFileSync(env().MAKE_UP_LOG as string, 'utf8');
    console.log(`make up: healthy after ${env().MAKE_UP_SECONDS} s with ${env().IMAGES} images`);
    expect(output).toContain(`Stack is healthy: http://localhost:${new URL(stack().nginxUrl).port} (docs: /docs)`);
    const ps = await make(['ps']);
    for (const service of ['nginx', 'api', 'worker', 'postgres', 'redis', 'redis-queue']) {
      expect(ps, service).toMatch(new RegExp(`-${service}-1 .*\\(healthy\\)`));
    }
  });

  it('when make migrate runs twice, then the second run applies nothing', async () => {
    const first = await make(['migrate']);
    const second = await make(['migrate']);
    // `make up` applied every migration already: both runs find nothing pending.
    for (const output of [first, second]) expect(output).toContain('schema is current; nothing to apply');
  });

  it('when make seed runs, then lists cached before it show the seeded products and the dev tokens place an order', async () => {
    const before = await fetch(`${stack().nginxUrl}/api/v1/categories`);
    expect(before.status).toBe(200);

    await make(['seed']);

    // Authenticated: past nginx's micro-cache, so this is the api's own response cache, which the seed bumped.
    const customer = { authorization: `Bearer ${env().DEV_CUSTOMER_TOKEN}` };
    const categories = (await (await fetch(`${stack().nginxUrl}/api/v1/categories`, { headers: customer })).json()) as {
      data: { slug: string }[];
    };
    expect(categories.data.length).toBeGreaterThan(5);
    const list = await fetch(`${stack().nginxUrl}/api/v1/products?limit=5`, { headers: customer });
    const products = (await list.json()) as { data: { id: number; stock: number }[] };
    expect(products.data.length).toBe(5);

    // The products come from Postgres.
    const db = new pg.Client({ connectionString: stack().databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ count: number }>('SELECT count(*)::int AS count FROM products');
      expect(rows[0]?.count).toBe(10_000);
    } finally {
      await db.end();
    }

    const product = (await (await fetch(`${stack().nginxUrl}/api/v1/products?limit=100`)).json()) as {
      data: { id: number }[];
    };
    const order = await fetch(`${stack().nginxUrl}/api/v1/orders`, {
      method: 'POST',
      headers: { ...customer, 'content-type': 'application/json', 'idempotency-key': `make-up-${process.pid}` },
      body: JSON.stringify({ items: [{ productId: product.data[0]?.id, quantity: 1 }] }),
    });
    expect(order.status, await order.clone().text()).toBe(201);
    const admin = await fetch(`${stack().nginxUrl}/api/v1/admin/users/1/tokens`, {
      headers: { authorization: `Bearer ${env().DEV_ADMIN_TOKEN}` },
    });
    expect(admin.status).toBe(200);
  });

  it('when /docs (Swagger UI) is opened through nginx in headless Chromium, then every operation renders', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const response = await page.goto(`${stack().nginxUrl}/docs`, { waitUntil: 'load' });
      expect(response?.status()).toBe(200);
      // Swagger UI's own files come through nginx from the api (/docs/assets/), so the page renders only if they do.
      await page.locator('#operations-Orders-createOrder').waitFor({ state: 'visible' });
      expect(await page.locator('.opblock').count()).toBeGreaterThanOrEqual(20);
      await page.screenshot({ path: screenshotPath('containers-docs-page.png') });
    } finally {
      await browser.close();
    }
  });
});
