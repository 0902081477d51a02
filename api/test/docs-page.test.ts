/**
 * The docs pages in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core): /docs is Swagger UI,
 * served from node_modules by the api, and a reader can send a request from it; /docs/reference is the page
 * rendered on the server. Screenshots go to test-results/ (ignored by git) for a person to look at. Neither page
 * may load anything from anywhere else or log an error (a Content-Security-Policy violation is one).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshotPath } from '../../test/support/browser.js';
import { startApi, type TestApi } from './support/api.js';

describe('docs pages', () => {
  let api: TestApi;
  let browser: Browser;

  beforeAll(async () => {
    api = await startApi();
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  /** A page that records every URL it requests and every console error. */
  async function openPage(): Promise<{ page: Page; requested: string[]; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requested: string[] = [];
    const errors: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    return { page, requested, errors };
  }

  it('when GET /api/v1/products is tried from /docs (Swagger UI), then its 200 and the products are shown on the page', async () => {
    const { page, requested, errors } = await openPage();
    const response = await page.goto(`${api.url}/docs`, { waitUntil: 'load' });
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await expect(page.title()).resolves.toContain('Catalog and orders API');

    const operation = page.locator('#operations-Catalog-listProducts');
    await operation.locator('.opblock-summary').click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    await operation.getByRole('button', { name: 'Execute' }).click();

    const live = operation.locator('.live-responses-table');
    await live.waitFor({ state: 'visible', timeout: 15_000 });
    expect((await live.locator('tbody .response-col_status').first().innerText()).trim()).toBe('200');
    const body = await live.locator('tbody .response-col_description pre').first().innerText();
    expect(JSON.parse(body)).toEqual(expect.objectContaining({ data: expect.any(Array) }));
    expect(requested.some((url) => url.startsWith(`${api.url}/api/v1/products`))).toBe(true);
    // Every operation is on the page, the order routes with their Idempotency-Key header among them.
    expect(await page.locator('.opblock').count()).toBeGreaterThanOrEqual(20);
    await page.locator('#operations-Orders-createOrder .opblock-summary').click();
    await page.getByText('Idempotency-Key', { exact: false }).first().waitFor();

    const image = await page.screenshot({ path: screenshotPath('docs-page.png'), fullPage: false });
    expect(image.length).toBeGreaterThan(20_000);
    expect(requested.filter((url) => !url.startsWith(api.url) && !url.startsWith('data:'))).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('when /docs/reference is opened, then the routes are on the page without scripts and nothing external is requested', async () => {
    const { page, requested, errors } = await openPage();
    const response = await page.goto(`${api.url}/docs/reference`, { waitUntil: 'load' });
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toContain('text/html');

    const createOrder = page.locator('#op-createOrder');
    await createOrder.waitFor({ state: 'visible' });
    expect(await createOrder.innerText()).toContain('POST /api/v1/orders');
    expect(await page.locator('#op-listProducts').innerText()).toContain('GET /api/v1/products');
    expect(await page.locator('section.op').count()).toBeGreaterThanOrEqual(15);
    expect(await page.locator('script').count()).toBe(0);

    const image = await page.screenshot({ path: screenshotPath('docs-reference.png') });
    expect(image.length).toBeGreaterThan(20_000);
    expect(requested.filter((url) => !url.startsWith(api.url))).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
