/**
 * What the api's responses mean to the edge, checked through the stack's nginx: its Cache-Control
 * lets nginx micro-cache anonymous public reads and never personal ones; nginx's own 429 reaches the
 * client as the same problem+json the api documents; nginx's request id is the one in our problems.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stack } from '../../test/support/stack.js';
import { createCatalog, createUser, startApi, type TestApi } from './support/api.js';
import { fetchContract, type Contract } from './support/contract.js';

describe('through the edge (nginx)', () => {
  let api: TestApi;
  let contract: Contract;
  const edge = () => stack().nginxUrl;

  beforeAll(async () => {
    api = await startApi();
    contract = await fetchContract(api.url);
  });
  afterAll(() => api.close());

  it('when an anonymous public read repeats, then nginx serves it from its micro-cache; a personal read is never cached', async () => {
    const catalog = await createCatalog(api.pool, 1);
    const path = `/api/v1/products/${catalog.productIds[0]}`;
    const first = await fetch(edge() + path);
    await first.arrayBuffer();
    const second = await fetch(edge() + path);
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ id: catalog.productIds[0] });
    expect(second.headers.get('x-cache-status')).toBe('HIT');

    const customer = await createUser(api.pool, 'customer');
    for (let i = 0; i < 2; i += 1) {
      const personal = await fetch(`${edge()}/api/v1/orders`, { headers: customer.headers });
      expect(personal.status).toBe(200);
      expect(personal.headers.get('cache-control')).toBe('private, no-store');
      expect(personal.headers.get('x-cache-status')).not.toBe('HIT');
      await personal.arrayBuffer();
    }
  });

  it('when nginx answers a problem itself, then it carries the request id nginx also passed to the api', async () => {
    const id = `edge-${randomUUID()}`;
    const response = await fetch(`${edge()}/api/v1/products/not-a-number`, { headers: { 'X-Request-Id': id } });
    expect(response.status).toBe(422);
    expect(response.headers.get('x-request-id')).toBe(id);
    expect(((await response.json()) as { requestId: string }).requestId).toBe(id);
  });

  it('when a client sends writes faster than the edge allows, then nginx answers 429 problem+json with Retry-After, as documented', async () => {
    let limited: Response | undefined;
    let bodyText = '';
    for (let attempt = 0; attempt < 80 && !limited; attempt += 1) {
      const responses = await Promise.all(
        Array.from({ length: 10 }, () =>
          fetch(`${edge()}/api/v1/orders`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: '{}',
          }),
        ),
      );
      for (const response of responses) {
        const text = await response.text();
        if (response.status === 429 && !limited) {
          limited = response;
          bodyText = text;
        }
      }
    }
    expect(limited, 'no request was rate limited').toBeDefined();
    const response = limited as Response;
    expect(response.headers.get('retry-after')).toBeTruthy();
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    contract.check('POST', '/api/v1/orders', response, bodyText);
    expect(JSON.parse(bodyText)).toMatchObject({ status: 429, type: 'https://problems.node-stack.dev/rate-limited' });
    // Let the write bucket drain before the next test file writes through the edge.
    for (let waited = 0; waited < 10_000; waited += 500) {
      await sleep(500);
      const probe = await fetch(`${edge()}/api/v1/orders`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      });
      await probe.arrayBuffer();
      if (probe.status !== 429) break;
    }
    await sleep(2_500);
  });
});
