/**
 * The workload logic both load generators share (load-tests/lib/workload-core.js) and the native runner's verdicts:
 * pure functions, no stack needed.
 */
import { describe, expect, it } from 'vitest';
import { createPlanner, createRandom, failedChecks, fillPath, limitsFor } from '../../load-tests/lib/workload-core.js';
import type { RequestSpec, WorkloadData } from '../../load-tests/lib/workload-core.js';
import { loadWorkload } from '../../load-tests/native/run.ts';
import { judge, type TypeSummary } from '../../load-tests/native/scenario.ts';
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
