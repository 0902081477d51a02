/**
 * p50 of uncached list pages and searches at the large catalog / at 10,000 products: how list latency grows with the
 * catalog when no cache answers.
 */
import { join } from 'node:path';
import { encodeCursor, productListQueries, type ProductListFilter } from '@stack/core';
import { createRandom, pickWeighted, zipfCumulative } from '../../load-tests/lib/workload-core.js';
import type { PlannedRequest, RequestSpec } from '../../load-tests/lib/workload-core.js';
import type { RunContext } from '../../load-tests/native/scenario.ts';
import type { BenchContext } from '../lib/context.ts';
import { explain, withClient } from '../lib/data.ts';
import { measureOpen, r2 } from '../lib/measure.ts';
import { ratioKey } from '../lib/verdict.ts';
import type { BenchmarkKey } from './key.ts';

type Latency = Awaited<ReturnType<typeof probeLatency>>;

export const listLatency1mVs10k: BenchmarkKey = {
  name: 'list_latency_1m_vs_10k',
  title: 'p50 of uncached list page and search, 1M / 10k products',
  unit: 'ms',
  catalogs: 'small-then-large',
  async measure(context) {
    await context.catalog.useSmall();
    context.env.log('list latency at 10,000 products (uncached pages and searches, through nginx and the api)');
    const small = await probeLatency(context, '10k');
    await context.catalog.useLarge();
    context.env.log('list latency at 1,000,000 products');
    const large = await probeLatency(context, '1m');
    return latencyKey(context, small, large);
  },
};

function latencyKey(context: BenchContext, small: Latency, large: Latency) {
  const listRatio = large.list.figures.p50_ms / small.list.figures.p50_ms;
  const searchRatio = large.search.figures.p50_ms / small.search.figures.p50_ms;
  const worse = listRatio >= searchRatio ? 'list' : 'search';
  const key = ratioKey(
    { op: '<=', value: 1.5 },
    large[worse],
    small[worse],
    Math.max(listRatio, searchRatio),
    `p50 of uncached requests (unique URLs: no Redis or edge hit) at ${context.settings.latency_rate_per_s} req/s ` +
      `through nginx and the api, at 1,000,000 products / at 10,000. list = a category page at a random keyset ` +
      `position; search = first page of a two-word search taken from product names. ratio = the worse of the two; ` +
      `stack = 1M figures, reference = 10k figures of that one.`,
    () =>
      `${worse} p50 grows ${r2(Math.max(listRatio, searchRatio))}x from 10k to 1M. Postgres plans at 1M: ` +
      `list ${large.plans.list.executionMs} ms [${large.plans.list.nodes.join(' > ')}], ` +
      `search ${large.plans.search.executionMs} ms [${large.plans.search.nodes.join(' > ')}]; at 10k: ` +
      `list ${small.plans.list.executionMs} ms, search ${small.plans.search.executionMs} ms.`,
  );
  const part = (kind: 'list' | 'search', ratio: number) => ({
    ratio: r2(ratio),
    p50_ms_1m: large[kind].figures.p50_ms,
    p50_ms_10k: small[kind].figures.p50_ms,
    at_1m: large[kind].figures,
    at_10k: small[kind].figures,
    postgres_plan_1m: large.plans[kind],
    postgres_plan_10k: small.plans[kind],
    // Share of answers nginx served from its micro-cache: 0 when every URL really was uncached.
    edge_cache_hits: [large[kind].detail.edgeCacheHits, small[kind].detail.edgeCacheHits],
  });
  key.parts = { list: part('list', listRatio), search: part('search', searchRatio) };
  return key;
}

/** Uncached list pages and searches at the current catalog, at a fixed low rate, and Postgres' plans of both. */
async function probeLatency(context: BenchContext, size: string) {
  const { settings, edgeHeaders } = context;
  const requests = await uncachedListRequests(context, 400);
  const run: RunContext = {
    workload: context.workload,
    data: { categories: [], cursors: [], productIds: [], orderProductIds: [], customers: [] },
    baseUrl: context.stack.nginxUrl,
    headers: { ...edgeHeaders },
    runId: `lat${size}`,
    workDir: join(context.workDir, `latency-${size}`),
    extraTypes: LATENCY_TYPES,
  };
  const stage = (name: string) => ({ name, rate: settings.latency_rate_per_s, seconds: settings.latency_seconds });
  const list = await measureOpen(context.env, run, requests.list, stage(`list-${size}`));
  const search = await measureOpen(context.env, run, requests.search, stage(`search-${size}`));
  return { list, search, plans: await requests.explain() };
}

const uncachedRead: RequestSpec = {
  weight: 0,
  method: 'GET',
  path: '',
  auth: 'none',
  expect: { status: [200] },
  checks: { json: true, arrays: ['data'] },
};
const LATENCY_TYPES: Record<string, RequestSpec> = { uncached_list: uncachedRead, uncached_search: uncachedRead };

/**
 * Requests that no cache can answer: category pages at random keyset positions (cursors made with the api's own
 * encodeCursor) and first pages of two-word searches taken from product names, every URL distinct.
 */
async function uncachedListRequests(context: BenchContext, count: number) {
  const facts = await withClient(context.databaseUrl, async (client) => {
    const categories = await client.query<{ id: number; slug: string; products: number }>(
      `SELECT c.id, c.slug, count(p.id)::int AS products FROM categories c JOIN products p ON p.category_id = c.id AND p.active
        WHERE c.active GROUP BY c.id ORDER BY products DESC`,
    );
    const max = await client.query<{ max: number }>('SELECT max(id)::int AS max FROM products');
    const names = await client.query<{ name: string }>(
      `SELECT name FROM products WHERE active ORDER BY hashint4(id + 7) LIMIT $1`,
      [count * 4],
    );
    return { categories: categories.rows, maxId: max.rows[0]?.max ?? 1, names: names.rows.map((r) => r.name) };
  });
  const random = createRandom(99);
  const zipf = zipfCumulative(facts.categories.length, 1.1);
  const read = (type: string, path: string): PlannedRequest => ({
    type,
    method: 'GET',
    path,
    headers: { Accept: 'application/json', ...context.edgeHeaders },
    body: null,
    values: {},
  });
  const list: PlannedRequest[] = [];
  const listFilters: { categoryId: number; afterId: number }[] = [];
  for (let i = 0; i < count; i += 1) {
    const category = facts.categories[pickWeighted(zipf, random)] ?? facts.categories[0];
    if (!category) break;
    const afterId = 1 + Math.floor(random() * facts.maxId * 0.95);
    listFilters.push({ categoryId: category.id, afterId });
    const cursor = encodeCursor([afterId]);
    list.push(read('uncached_list', `/api/v1/products?category=${category.slug}&limit=20&cursor=${cursor}`));
  }
  const queries = [...new Set(facts.names.map((name) => name.toLowerCase().split(' ').slice(1).join(' ')))].slice(
    0,
    count,
  );
  const search = queries.map((q) => read('uncached_search', `/api/v1/products?q=${encodeURIComponent(q)}&limit=20`));
  return {
    list,
    search,
    /** Postgres' own view of one list page and one search (the api's exact SQL). */
    explain: async () => ({
      list: await explainList(context.databaseUrl, { ...listFilters[0], limit: 20 }),
      search: await explainList(context.databaseUrl, { search: queries[0], limit: 20 }),
    }),
  };
}

/** EXPLAIN ANALYZE of the api's queries for a list filter: the steps it tries in order until one fills the page. */
async function explainList(databaseUrl: string, filter: ProductListFilter) {
  let executionMs = 0;
  const nodes: string[] = [];
  for (const query of productListQueries(filter)) {
    const plan = await explain(databaseUrl, query);
    executionMs += plan.executionMs;
    nodes.push(...plan.nodes.map((node, i) => (i === 0 ? `${query.step}: ${node}` : node)));
    if (plan.rows > filter.limit) break;
  }
  return { executionMs: r2(executionMs), nodes };
}
