/**
 * The queue UI (bull-board) at /admin/queues: renders for an admin in headless Chromium (screenshot
 * in test-results/), refuses anonymous (401) and customer (403) access, and works in a
 * browser through the sign-in page and its session cookie.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { revokeApiToken } from '@stack/core';
import { startApi as startApiWith } from '../../api/test/support/api.js';
import { bearer, createUser, stack, startApi, type TestApi } from './support.js';
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

  it('when a session cookie is forged from the pepper alone, then it is refused, for token 1 and for a real admin token', async () => {
    // The scheme before the fix: a key derived from the pepper only, and an expiry the client chooses.
    const pepperOnlyKey = createHmac('sha256', stack().tokenPepper).update('queue-board-session-v1').digest();
    const forge = (tokenId: number, expires: number) =>
      `${tokenId}.${expires}.${createHmac('sha256', pepperOnlyKey).update(`${tokenId}.${expires}`).digest('base64url')}`;
    // A valid admin token (the first tests revoked `admin`'s): only the pepper is needed to forge its session.
    const victim = await createUser(api.pool, 'admin');
    expect((await fetch(`${api.url}/admin/queues/api/queues`, { headers: bearer(victim.token) })).status).toBe(200);
    const now = Math.floor(Date.now() / 1_000);
    for (const tokenId of [1, victim.tokenId]) {
      for (const expires of [now + 60, now + 10 * 365 * 86_400]) {
        expect(await boardStatus(forge(tokenId, expires)), `token ${tokenId}, expires ${expires}`).toBe(401);
      }
    }
  });

  it('when a correctly signed cookie carries an expiry beyond now + TTL, then it is refused', async () => {
    const fresh = await createUser(api.pool, 'admin');
    const { rows } = await api.pool.query<{ hash: Buffer }>(`SELECT token_hash AS hash FROM api_tokens WHERE id = $1`, [
      fresh.tokenId,
    ]);
    const tokenHash = (rows[0] as { hash: Buffer }).hash;
    // The server's own scheme, rebuilt here from what only the server knows (the pepper and the stored hash).
    const pepperKey = createHmac('sha256', stack().tokenPepper).update('queue-board-session-v2').digest();
    const key = createHmac('sha256', pepperKey).update(tokenHash).digest();
    const sign = (expires: number) =>
      `${fresh.tokenId}.${expires}.${createHmac('sha256', key).update(`${fresh.tokenId}.${expires}`).digest('base64url')}`;
    const now = Math.floor(Date.now() / 1_000);
    expect(await boardStatus(sign(now + 60))).toBe(200);
    expect(await boardStatus(sign(now + 300))).toBe(200);
    expect(await boardStatus(sign(now + 301 + 5))).toBe(401);
    expect(await boardStatus(sign(now + 30 * 86_400))).toBe(401);
    expect(await boardStatus(sign(now - 1))).toBe(401);
    // A revoked token's cookie, even one still in its window, stops working.
    await revokeApiToken(api.pool, fresh.tokenId);
    expect(await boardStatus(sign(now + 60))).toBe(401);
  });

  it('when the sign-in came over HTTPS through nginx, or QUEUE_BOARD_COOKIE_SECURE is on, then the cookie is Secure', async () => {
    // The first test revoked `admin`'s token: a fresh admin signs in here.
    const signer = await createUser(api.pool, 'admin');
    const overTls = await signIn(api, signer.token, { 'X-Forwarded-Proto': 'https' });
    expect(overTls).toMatch(/; Secure/);
    expect(await signIn(api, signer.token, {})).not.toMatch(/; Secure/);
    const secureApi = await startApiWith({
      env: { QUEUE_BOARD_COOKIE_SECURE: 'true', EDGE_CACHE_MAX_AGE_SECONDS: '0' },
    });
    try {
      expect(await signIn(secureApi, signer.token, {})).toMatch(/; Secure/);
    } finally {
      await secureApi.close();
    }
  });
});

async function boardStatus(cookie: string): Promise<number> {
  const response = await fetch(`${api.url}/admin/queues/api/queues`, {
    headers: { Cookie: `queue_board_session=${cookie}` },
  });
  await response.body?.cancel();
  return response.status;
}

async function signIn(target: TestApi, token: string, headers: Record<string, string>): Promise<string> {
  const response = await fetch(`${target.url}/admin/queues/session`, {
    method: 'POST',
    headers: { ...bearer(token), ...headers },
  });
  expect(response.status).toBe(204);
  return response.headers.get('set-cookie') ?? '';
}
