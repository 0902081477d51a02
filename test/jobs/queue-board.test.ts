/**
 * The queue UI (bull-board) at /admin/queues: renders for an admin in headless Chromium (screenshot
 * in test-results/), refuses anonymous (401) and customer (403) access, and works in a
 * browser through the sign-in page and its session cookie.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { revokeApiToken } from '@stack/core';
import { bearer, createUser, startApi, type TestApi } from './support.js';
import { launchChromium, screenshotPath } from '../support/browser.js';

let api: TestApi;
let admin: { token: string; tokenId: number };
let customer: { token: string };
let browser: Browser;

beforeAll(async () => {
  api = await startApi();
  admin = await createUser(api.pool, 'admin');
  customer = await createUser(api.pool, 'customer');
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
});

describe('queue UI', () => {
  it('when an anonymous visitor or a customer opens it, then it is refused with 401 and 403', async () => {
    for (const path of [
      '/admin/queues',
      '/admin/queues/',
      '/admin/queues/api/queues',
      '/admin/queues/static/css/x.css',
    ]) {
      const anonymous = await fetch(`${api.url}${path}`);
      expect(anonymous.status, path).toBe(401);
      expect(anonymous.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect((await fetch(`${api.url}${path}`, { headers: bearer(customer.token) })).status, path).toBe(403);
    }
  });

  it('when an admin opens it in headless Chromium, then the dashboard renders every queue', async () => {
    const context = await browser.newContext({
      extraHTTPHeaders: bearer(admin.token),
      viewport: { width: 1280, height: 800 },
    });
    try {
      const page = await context.newPage();
      const response = await page.goto(`${api.url}/admin/queues`, { waitUntil: 'domcontentloaded' });
      expect(response?.status()).toBe(200);
      for (const queue of ['reports', 'imports', 'webhooks', 'events']) {
        await page.getByText(queue, { exact: true }).first().waitFor({ timeout: 15_000 });
      }
      const path = screenshotPath('queue-board.png');
      const image = await page.screenshot({ path, fullPage: true });
      expect(image.length).toBeGreaterThan(10_000);
    } finally {
      await context.close();
    }
  });

  it('when an admin signs in on the login page, then a short-lived HttpOnly cookie opens the dashboard until the token is revoked', async () => {
    const signIn = await fetch(`${api.url}/admin/queues/session`, {
      method: 'POST',
      headers: bearer(admin.token),
      redirect: 'manual',
    });
    expect(signIn.status).toBe(204);
    const cookie = signIn.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(
      /^queue_board_session=[^;]+; Max-Age=300; Path=\/admin\/queues; Expires=[^;]+; HttpOnly; SameSite=Strict$/,
    );
    expect(
      (await fetch(`${api.url}/admin/queues/session`, { method: 'POST', headers: bearer(customer.token) })).status,
    ).toBe(403);

    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${api.url}/admin/queues/login`);
      await page.fill('input[name=token]', admin.token);
      await Promise.all([page.waitForURL(/\/admin\/queues\/$/), page.click('button[type=submit]')]);
      await page.getByText('reports', { exact: true }).first().waitFor({ timeout: 15_000 });
      const [session] = await context.cookies();
      expect(session).toMatchObject({
        name: 'queue_board_session',
        httpOnly: true,
        sameSite: 'Strict',
        path: '/admin/queues',
      });

      // A tampered cookie is ignored (401), and revoking the token ends the session.
      const value = cookie.split(';')[0] as string;
      expect((await fetch(`${api.url}/admin/queues/api/queues`, { headers: { Cookie: value } })).status).toBe(200);
      expect(
        (await fetch(`${api.url}/admin/queues/api/queues`, { headers: { Cookie: `${value.slice(0, -2)}xx` } })).status,
      ).toBe(401);
      await revokeApiToken(api.pool, admin.tokenId);
      expect((await fetch(`${api.url}/admin/queues/api/queues`, { headers: { Cookie: value } })).status).toBe(401);
    } finally {
      await context.close();
    }
  });
});
