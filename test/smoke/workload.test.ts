/**
 * The workload logic both load generators share (load-tests/lib/workload-core.js) and the native runner's verdicts:
 * pure functions, no stack needed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPlanner, createRandom, failedChecks, fillPath, limitsFor } from '../../load-tests/lib/workload-core.js';
import type { RequestSpec, Workload, WorkloadData } from '../../load-tests/lib/workload-core.js';
import { discovery, type DiscoveryGet } from '../../load-tests/lib/discovery.js';
import { discover } from '../../load-tests/native/discover.ts';
import { loadWorkload } from '../../load-tests/native/workload-file.ts';
import { judge, type TypeSummary } from '../../load-tests/native/checks.ts';
import { percentile, summarize } from '../../load-tests/native/stats.ts';

const data: WorkloadData = {
  categories: [
    { slug: 'big', id: 1 },
    { slug: 'small', id: 2 },
  ],
  cursors: [{ category: 'big', cursor: 'WzUwXQ', offset: 50 }],
  productIds: [1, 2, 3, 4, 5],
  orderProductIds: [3, 4],
  customers: [
    { token: 'token-a-0123456789abcdef', orderIds: [10, 11] },
    { token: 'token-b-0123456789abcdef', orderIds: [] },
  ],
};

function summary(p95Ms: number, p99Ms: number, errorRate: number, checked = 10, failed = 0): TypeSummary {
  const stats = { ...summarize([1, 2, 3], 0, 1), p95Ms, p99Ms, errorRate };
  return { stats, statuses: { '200': 3 }, checks: { checked, failed, failures: {} } };
}

describe('workload planning', () => {
  it('when the planner draws 20,000 requests, then each type gets its weight share of them', async () => {
    const workload = await loadWorkload();
    const planner = createPlanner(workload, data);
    const random = createRandom(1);
    const counts = new Map<string, number>();
    for (let i = 0; i < 20_000; i += 1) {
      const type = planner.pickType(random);
      counts.set(type, (counts.get(type) ?? 0) + 1);
    }
    const totalWeight = Object.values(workload.requests).reduce((sum, spec) => sum + spec.weight, 0);
    for (const [type, spec] of Object.entries(workload.requests)) {
      expect(Math.abs((counts.get(type) ?? 0) / 20_000 - spec.weight / totalWeight), type).toBeLessThan(0.015);
    }
    expect(planner.missing).toEqual([]);
  });

  it('when an order is planned, then it has a fresh idempotency key, a bearer token and a product that has stock', async () => {
    const workload = await loadWorkload();
    const planner = createPlanner(workload, data);
    const random = createRandom(2);
    const first = planner.plan('create_order', random, { runId: 'r1', sequence: 1 });
    const second = planner.plan('create_order', random, { runId: 'r1', sequence: 2 });
    expect(first.headers['Idempotency-Key']).not.toEqual(second.headers['Idempotency-Key']);
    expect(first.headers.Authorization).toMatch(/^Bearer token-/);
    const body = JSON.parse(first.body ?? '{}') as { items: { productId: number; quantity: number }[] };
    expect([3, 4]).toContain(body.items[0]?.productId);
  });

  it('when an order detail is planned, then the order belongs to the customer whose token is sent', async () => {
    const workload = await loadWorkload();
    const request = createPlanner(workload, data).plan('order_detail', createRandom(3), { runId: 'r', sequence: 1 });
    expect(request.headers.Authorization).toBe('Bearer token-a-0123456789abcdef');
    expect(['/api/v1/orders/10', '/api/v1/orders/11']).toContain(request.path);
  });

  it('when the data has no customers, then the customer request types are reported missing', async () => {
    const workload = await loadWorkload();
    const planner = createPlanner(workload, { ...data, customers: [] });
    expect(planner.missing.sort()).toEqual(['create_order', 'my_orders', 'order_detail']);
  });

  it('when a path has a placeholder without a value, then filling it fails loudly', () => {
    expect(() => fillPath('/api/v1/products/{productId}', {})).toThrow(/productId/);
    expect(fillPath('/p?q={query}', { query: 'bamboo kettle' })).toBe('/p?q=bamboo%20kettle');
  });
});

/** A tiny catalog API: three categories of 2, 120 and 60 products, stock on even ids, one order for customer "a". */
function fakeApi(request: DiscoveryGet): unknown {
  const url = new URL(request.path, 'http://api');
  const categories = [
    { slug: 'small', id: 1, productCount: 2, first: 3000 },
    { slug: 'big', id: 2, productCount: 120, first: 1000 },
    { slug: 'mid', id: 3, productCount: 60, first: 2000 },
  ];
  if (url.pathname === '/api/v1/categories') return { data: categories };
  if (url.pathname === '/api/v1/orders')
    return { data: request.headers.Authorization === 'Bearer a' ? [{ id: 10 }] : [] };
  const detail = /^\/api\/v1\/products\/(\d+)$/.exec(url.pathname);
  if (detail) return { id: Number(detail[1]), stock: Number(detail[1]) % 2 === 0 ? 500 : 10 };
  const category = categories.find((c) => c.slug === url.searchParams.get('category'));
  if (!category) throw new Error(`fake API: no route for ${request.path}`);
  const offset = Number((url.searchParams.get('cursor') ?? 'c0').slice(1));
  const end = Math.min(category.productCount, offset + Number(url.searchParams.get('limit')));
  const ids = Array.from({ length: end - offset }, (_, i) => category.first + offset + i);
  return { data: ids.map((id) => ({ id })), nextCursor: end < category.productCount ? `c${end}` : null };
}

/** k6's way: every GET answered synchronously, one after the other. */
function discoverSynchronously(workload: Workload, seed: number): WorkloadData {
  const steps = discovery(workload, { tokens: ['a', 'b'], seed });
  let step = steps.next();
  while (!step.done) step = steps.next(step.value.map(fakeApi));
  return step.value;
}

describe('discovery', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('when discovery runs, then it orders categories by size, follows cursors and keeps only products with stock for orders', async () => {
    const workload = await loadWorkload();
    const data = discoverSynchronously(workload, 7);
    expect(data.categories.map((c) => c.slug)).toEqual(['big', 'mid', 'small']);
    expect(data.cursors).toEqual([
      { category: 'big', cursor: 'c100', offset: 100 },
      { category: 'big', cursor: 'c50', offset: 50 },
      { category: 'mid', cursor: 'c50', offset: 50 },
    ]);
    expect(data.productIds).toHaveLength(182);
    expect(data.orderProductIds.length).toBeGreaterThan(0);
    expect(data.orderProductIds.every((id) => Number(id) % 2 === 0)).toBe(true);
    expect(data.customers).toEqual([
      { token: 'a', orderIds: [10] },
      { token: 'b', orderIds: [] },
    ]);
  });

  it('when the seed is the same, then the hot products are the same; another seed shuffles them otherwise', async () => {
    const workload = await loadWorkload();
    const first = discoverSynchronously(workload, 7).productIds;
    expect(discoverSynchronously(workload, 7).productIds).toEqual(first);
    expect(discoverSynchronously(workload, 8).productIds).not.toEqual(first);
    expect([...first].sort()).toEqual([...discoverSynchronously(workload, 8).productIds].sort());
  });

  it('when Node drives it with fetch and answers arrive out of order, then it finds what the synchronous driver finds', async () => {
    const workload = await loadWorkload();
    const fetchOutOfOrder = async (input: string | URL, init?: RequestInit) => {
      const url = new URL(String(input));
      const headers = Object.fromEntries(new Headers(init?.headers).entries());
      await sleep(Math.floor(Math.random() * 5));
      const body = fakeApi({
        path: url.pathname + url.search,
        headers: { Authorization: headers.authorization ?? '' },
      });
      return new Response(JSON.stringify(body), { status: 200 });
    };
    vi.stubGlobal('fetch', fetchOutOfOrder);
    const data = await discover(workload, { baseUrl: 'http://api/', tokens: ['a', 'b'], seed: 7 });
    expect(data).toEqual(discoverSynchronously(workload, 7));
  });
});

describe('response checks', () => {
  const list: RequestSpec = {
    weight: 1,
    method: 'GET',
    path: '',
    auth: 'none',
    expect: { status: [200] },
    checks: { json: true, arrays: ['data'] },
  };
  const detail: RequestSpec = { ...list, checks: { json: true, equals: { id: '{productId}' } } };

  it('when a list answer has no data array, then the check names it', () => {
    expect(failedChecks(list, 200, '{"items":[]}', {})).toEqual(['data is an array']);
    expect(failedChecks(list, 200, '{"data":[]}', {})).toEqual([]);
  });

  it('when a detail answers another id, then the equals check fails', () => {
    expect(failedChecks(detail, 200, '{"id":7}', { productId: '8' })).toEqual(['id = {productId}']);
    expect(failedChecks(detail, 200, '{"id":8}', { productId: '8' })).toEqual([]);
  });

  it('when the status is not an expected one or the body is not JSON, then the check fails', () => {
    expect(failedChecks(list, 503, '{}', {})).toEqual(['status 200']);
    expect(failedChecks(list, 200, '<html>', {})).toEqual(['json body']);
  });
});

describe('threshold verdicts', () => {
  it('when a request type is slower than the profile allows, then its threshold fails and the run fails', async () => {
    const workload = await loadWorkload();
    const limit = limitsFor(workload, 'smoke').byType.search;
    const results = judge(workload, 'smoke', {
      search: summary((limit?.p95Ms ?? 0) + 1, 1, 0),
      categories: summary(1, 1, 0),
    });
    const failed = results.filter((result) => !result.ok).map((result) => result.metric);
    expect(failed).toEqual(['search p95 ms']);
  });

  it('when errors or failed checks exceed the limits, then those thresholds fail', async () => {
    const workload = await loadWorkload();
    const results = judge(workload, 'smoke', { categories: summary(1, 1, 0.02, 100, 5) });
    const failed = results.filter((result) => !result.ok).map((result) => result.metric);
    expect(failed).toEqual(['categories error rate', 'checks pass rate']);
  });

  it('when every limit holds, then every threshold passes', async () => {
    const workload = await loadWorkload();
    expect(judge(workload, 'smoke', { categories: summary(1, 2, 0) }).every((result) => result.ok)).toBe(true);
  });

  it('when percentiles are taken, then they are nearest-rank values of the samples', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile([], 99)).toBe(0);
  });
});
