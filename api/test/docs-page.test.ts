/**
 * The docs page renders in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core):
 * the screenshot goes to test-results/ (ignored by git) for a person to look at, and the page must
 * show route names and load nothing from anywhere else.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, screenshotPath } from '../../test/support/browser.js';
import { startApi, type TestApi } from './support/api.js';

describe('docs page', () => {
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

  it('when /docs is opened in headless Chromium, then the routes are on the page and nothing external is requested', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requested: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    const failures: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') failures.push(message.text());
    });
    const response = await page.goto(`${api.url}/docs`, { waitUntil: 'load' });
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toContain('text/html');

    await expect(page.title()).resolves.toContain('Catalog and orders API');
    const createOrder = page.locator('#op-createOrder');
    await createOrder.waitFor({ state: 'visible' });
    expect(await createOrder.innerText()).toContain('POST /api/v1/orders');
    expect(await page.locator('#op-listProducts').innerText()).toContain('GET /api/v1/products');
    expect(await page.getByText('Idempotency-Key', { exact: false }).count()).toBeGreaterThan(0);
    expect(await page.locator('section.op').count()).toBeGreaterThanOrEqual(15);

    const image = await page.screenshot({ path: screenshotPath('docs-page.png') });
    expect(image.length).toBeGreaterThan(20_000);

    expect(requested.filter((url) => !url.startsWith(api.url))).toEqual([]);
    expect(failures).toEqual([]);
    await page.close();
  });
});
