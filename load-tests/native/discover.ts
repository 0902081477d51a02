/**
 * Before a run: learn real ids, slugs and cursors from the API itself (as k6's setup() does in load-tests/lib/k6.js),
 * so the workload only asks for things that exist and follows cursors the API really issued.
 */
import {
  createRandom,
  getPath,
  hasStock,
  readCategories,
  readOrderIds,
  readProductPage,
  responsePaths,
  spreadSample,
} from '../lib/workload-core.js';
import type { Category, Customer, Workload, WorkloadData } from '../lib/workload-core.js';

export interface DiscoveryOptions {
  baseUrl: string;
  /** Sent with every request (e.g. the load-test key). */
  headers?: Record<string, string>;
  /** Bearer tokens of the customers the run acts as. */
  tokens: readonly string[];
  /** Only these category slugs (tests that browse their own data); default: the categories the API lists. */
  categorySlugs?: readonly string[];
  seed?: number;
}

async function getJson(url: string, headers: Record<string, string>): Promise<unknown> {
  const response = await fetch(url, { headers: { Accept: 'application/json', ...headers } });
  const text = await response.text();
  if (response.status !== 200) {
    throw new Error(`discovery: GET ${url} answered ${response.status}: ${text.slice(0, 300)}`);
  }
  return JSON.parse(text) as unknown;
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  });
  await Promise.all(runners);
}

export async function discover(workload: Workload, options: DiscoveryOptions): Promise<WorkloadData> {
  const paths = responsePaths(workload);
  const spec = workload.data.discovery;
  const headers = options.headers ?? {};
  const api = (path: string) => `${options.baseUrl.replace(/\/$/, '')}${path}`;

  let categories: Category[];
  if (options.categorySlugs) {
    // Given slugs are used as they are: the (cached) categories list may not show a category created a moment ago.
    categories = options.categorySlugs.map((slug) => ({ slug, id: 0 }));
  } else {
    const categoriesBody = await getJson(api('/api/v1/categories'), headers);
    categories = readCategories(categoriesBody, paths);
    // Hot categories are the big ones: order by product count (when the API gives it) so the Zipf draw favours them.
    const counts = new Map<string, number>();
    const items = getPath(categoriesBody, paths.items);
    if (Array.isArray(items)) {
      for (const item of items)
        counts.set(String(getPath(item, paths.slug)), Number(getPath(item, 'productCount') ?? 0));
    }
    categories.sort((a, b) => (counts.get(b.slug) ?? 0) - (counts.get(a.slug) ?? 0));
    categories = categories.slice(0, spec.maxCategories);
  }

  const categoryParam = workload.data.categoryParam ?? 'slug';
  const productIds: (string | number)[] = [];
  const orderProductIds: (string | number)[] = [];
  const cursors: { category: string; cursor: string; offset: number }[] = [];
  await eachLimited(categories, 4, async (category) => {
    const value = String(categoryParam === 'id' ? category.id : category.slug);
    let cursor: string | null = null;
    for (let page = 0; page < spec.pagesPerCategory; page += 1) {
      const query = new URLSearchParams({ category: value, limit: String(spec.pageLimit) });
      if (cursor) query.set('cursor', cursor);
      const result = readProductPage(await getJson(api(`/api/v1/products?${query}`), headers), paths);
      productIds.push(...result.ids);
      if (!result.nextCursor) break;
      cursor = result.nextCursor;
      // The cursor's page starts after (page + 1) x pageLimit products: what OFFSET pagination would skip.
      cursors.push({ category: value, cursor, offset: (page + 1) * spec.pageLimit });
    }
  });

  const candidates = spreadSample(
    [...new Set(productIds)].sort((a, b) => Number(a) - Number(b)),
    spec.orderProducts,
  );
  await eachLimited(candidates, 4, async (id) => {
    const body = await getJson(api(`/api/v1/products/${encodeURIComponent(String(id))}`), headers);
    if (hasStock(body, paths, spec.minOrderStock)) orderProductIds.push(id);
  });

  const customers: Customer[] = options.tokens.map((token) => ({ token, orderIds: [] }));
  await eachLimited(customers.slice(0, spec.ordersOfCustomers), 4, async (customer) => {
    const body = await getJson(api('/api/v1/orders'), { ...headers, Authorization: `Bearer ${customer.token}` });
    customer.orderIds = readOrderIds(body, paths) as (string | number)[];
  });

  // Spread the hot products over all categories: the Zipf draw favours the first ids of this list.
  const random = createRandom(options.seed ?? 7);
  const unique = [...new Set(productIds)].sort((a, b) => Number(a) - Number(b));
  for (let i = unique.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [unique[i], unique[j]] = [unique[j] as string | number, unique[i] as string | number];
  }
  // Stable order regardless of which request finished first.
  cursors.sort((a, b) => (a.category + a.cursor).localeCompare(b.category + b.cursor));
  return {
    categories,
    cursors,
    productIds: unique,
    orderProductIds: [...new Set(orderProductIds)].sort((a, b) => Number(a) - Number(b)),
    customers,
  };
}
