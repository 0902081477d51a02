/**
 * The Grafana dashboards (observability/grafana/dashboards) against a live Prometheus on the native stack, after a
 * short load through nginx: every panel query parses and returns at least one series, so a renamed metric or label
 * breaks the build rather than a dashboard. And our own metrics keep bounded labels: after requests for many ids and
 * unknown paths, no label of the api, worker or nginx metrics has more than a handful of values, and routes are
 * templates, never raw paths.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, placeOrder, startShop, type TestApi } from '../jobs/support.ts';
import { loadtestHeaders, stack } from '../support/stack.ts';
import { dashboardDir, panelQueries, panelsWithoutData, query, startNativePrometheus } from './support.ts';

const queries = panelQueries();

/** More distinct values than this for one label of one metric is a label that grows with the traffic. */
const MAX_LABEL_VALUES = 40;

let prometheus: Awaited<ReturnType<typeof startNativePrometheus>>;
let shop: { api: TestApi; admin: { token: string }; customer: { token: string }; productId: number };

beforeAll(async () => {
  prometheus = await startNativePrometheus();
  shop = await startShop();
  await shortLoad();
}, 120_000);

afterAll(async () => {
  await shop?.api.close();
  await prometheus?.down();
});

/** Reads (anonymous, micro-cached by nginx), reads of many ids and unknown paths, orders (outbox, events), a report. */
async function shortLoad(): Promise<void> {
  const nginx = stack().nginxUrl;
  const headers = loadtestHeaders();
  const get = async (path: string) => (await fetch(`${nginx}${path}`, { headers })).arrayBuffer();
  for (let round = 0; round < 40; round += 1) {
    await Promise.all([
      get('/api/v1/products?limit=5'),
      get('/api/v1/categories'),
      get(`/api/v1/products/${shop.productId}`),
      get(`/api/v1/products/${900_000 + round}`),
      get(`/no-such-path-${round}`),
    ]);
  }
  for (let order = 0; order < 10; order += 1) await placeOrder(shop.api, shop.customer.token, shop.productId);
  const report = await fetch(`${nginx}/api/v1/admin/reports`, {
    method: 'POST',
    headers: { ...headers, ...bearer(shop.admin.token), 'Content-Type': 'application/json' },
    body: JSON.stringify({ from: '1950-01-01', to: '1950-01-02' }),
  });
  expect(report.status).toBe(202);
}

describe('dashboards and label cardinality on a live Prometheus', () => {
  it('when the dashboards are read, then there are the four of them with their panels', () => {
    expect(readdirSync(dashboardDir).sort()).toEqual(['data-tier.json', 'edge.json', 'jobs.json', 'overview.json']);
    expect(queries.length).toBeGreaterThanOrEqual(35);
  });

  it('when the load has been scraped, then every panel query parses and returns at least one series', async () => {
    // rate() needs two scrapes (5 s apart) inside its window, and the recording rules one evaluation after them.
    expect(await panelsWithoutData(prometheus.url, queries, 60_000)).toEqual([]);
  }, 90_000);

  it('when the api, worker and nginx series are listed, then no label grows with the traffic and routes are templates', async () => {
    const series = (await query(prometheus.url, '{job=~"api|worker|nginx"}')).map((sample) => sample.metric);
    const values = new Map<string, Set<string>>();
    for (const labels of series) {
      for (const [label, value] of Object.entries(labels)) {
        if (['__name__', 'job', 'instance', 'le'].includes(label)) continue;
        const key = `${labels.__name__}{${label}}`;
        values.set(key, (values.get(key) ?? new Set()).add(value));
      }
    }
    const unbounded = [...values].filter(([, set]) => set.size > MAX_LABEL_VALUES).map(([key, set]) => key + set.size);
    const rawRoutes = series
      .map((labels) => labels.route)
      .filter((route) => route !== undefined && /\/\d+(\/|$)|\?|no-such-path/.test(route));
    expect(series.length).toBeGreaterThan(100);
    expect(unbounded).toEqual([]);
    expect([...new Set(rawRoutes)]).toEqual([]);
  });
});
