// @ts-check
/**
 * Discovery before a run, shared by both load generators like workload-core.js (plain ES2020, no I/O): the real
 * slugs, product ids, cursors, stock and order ids, so the workload asks only for things that exist and follows
 * cursors the API really issued. `discovery` is a generator that yields the GETs it needs and is resumed with their
 * answers: k6 drives it with http.get in setup() (lib/k6.js), Node with fetch (native/discover.ts).
 */
import { at, createRandom, getPath, responsePaths } from './workload-core.js';

/**
 * @typedef {import('./workload-core.js').Category} Category
 * @typedef {import('./workload-core.js').Customer} Customer
 * @typedef {import('./workload-core.js').ResponsePaths} ResponsePaths
 * @typedef {import('./workload-core.js').Workload} Workload
 * @typedef {import('./workload-core.js').WorkloadData} WorkloadData
 * @typedef {{ path: string, headers: Record<string, string> }} DiscoveryGet
 * @typedef {{ tokens: readonly string[], categorySlugs?: readonly string[], seed: number }} DiscoveryOptions
 */

/**
 * What discovery learns from one product list page.
 * @param {unknown} body @param {ResponsePaths} paths
 * @returns {{ ids: (string | number)[], nextCursor: string | null }}
 */
function readProductPage(body, paths) {
  const items = getPath(body, paths.items);
  const ids = [];
  for (const item of Array.isArray(items) ? items : []) {
    const id = getPath(item, paths.id);
    if (id !== undefined && id !== null) ids.push(/** @type {string | number} */ (id));
  }
  const cursor = getPath(body, paths.nextCursor);
  return { ids, nextCursor: typeof cursor === 'string' && cursor !== '' ? cursor : null };
}

/**
 * Whether a product detail shows enough stock for the orders of a whole run (one unit each), so order creation
 * measures placing orders rather than running out. @param {unknown} body @param {ResponsePaths} paths @param {number} minStock
 */
function hasStock(body, paths, minStock) {
  const stock = getPath(body, paths.stock);
  return typeof stock === 'number' && stock >= minStock;
}

/**
 * Every k-th item, at most `count` of them: a spread-out, deterministic sample.
 * @template T @param {readonly T[]} items @param {number} count @returns {T[]}
 */
function spreadSample(items, count) {
  if (items.length <= count) return items.slice();
  const step = items.length / count;
  const out = [];
  for (let i = 0; i < count; i += 1) out.push(at(items, Math.floor(i * step)));
  return out;
}

/** Categories from the categories response. @param {unknown} body @param {ResponsePaths} paths @returns {Category[]} */
function readCategories(body, paths) {
  const items = getPath(body, paths.items);
  if (!Array.isArray(items)) return [];
  return items
    .map((item) => ({ slug: String(getPath(item, paths.slug)), id: Number(getPath(item, paths.id)) }))
    .filter((category) => category.slug !== 'undefined');
}

/** Order ids from a customer's order list. @param {unknown} body @param {ResponsePaths} paths */
function readOrderIds(body, paths) {
  const items = getPath(body, paths.items);
  if (!Array.isArray(items)) return [];
  return items.map((item) => getPath(item, paths.id)).filter((id) => id !== undefined && id !== null);
}

/**
 * Categories from the categories response, the biggest first (by productCount when the API gives it), so the Zipf
 * draw favours the big ones. @param {unknown} body @param {ResponsePaths} paths @param {number} max
 */
function biggestCategories(body, paths, max) {
  /** @type {Map<string, number>} */
  const counts = new Map();
  const items = getPath(body, paths.items);
  for (const item of Array.isArray(items) ? items : []) {
    counts.set(String(getPath(item, paths.slug)), Number(getPath(item, 'productCount') || 0));
  }
  const byCount = (/** @type {Category} */ a, /** @type {Category} */ b) =>
    (counts.get(b.slug) || 0) - (counts.get(a.slug) || 0);
  return readCategories(body, paths).sort(byCount).slice(0, max);
}

/** @param {string} a @param {string} b Code-unit order: the same in every runtime, unlike localeCompare. */
const byCodeUnits = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Discovery before a run: the real slugs, product ids, cursors, stock and order ids, so the workload asks only for
 * things that exist and follows cursors the API really issued. No I/O: the generator yields batches of independent
 * GETs (paths below the base URL, with the headers they need) and must be resumed with their parsed JSON bodies in
 * the same order. The result depends only on the answers and the seed, whoever drives it and in which order it
 * sends a batch.
 *
 * Steps: the categories (biggest first; `categorySlugs` skips this and uses the given ones as they are, since the
 * cached list may not show a category created a moment ago), up to pagesPerCategory pages of each (ids and
 * cursors), the details of a spread-out sample of those products (orders buy only the ones with minOrderStock
 * units), and the orders of the first ordersOfCustomers customers.
 * @param {Workload} workload @param {DiscoveryOptions} options
 * @returns {Generator<DiscoveryGet[], WorkloadData, unknown[]>}
 */
export function* discovery(workload, options) {
  const paths = responsePaths(workload);
  const spec = workload.data.discovery;
  /** @type {(path: string, headers?: Record<string, string>) => DiscoveryGet} */
  const get = (path, headers = {}) => ({ path, headers });

  const categories = options.categorySlugs
    ? options.categorySlugs.map((slug) => ({ slug, id: 0 }))
    : biggestCategories((yield [get('/api/v1/categories')])[0], paths, spec.maxCategories);

  const categoryParam = workload.data.categoryParam || 'slug';
  /** @type {(string | number)[]} */
  const productIds = [];
  /** @type {{ category: string, cursor: string, offset: number }[]} */
  const cursors = [];
  /** @type {{ category: string, cursor: string | null }[]} */
  let pages = categories.map((category) => ({
    category: String(categoryParam === 'id' ? category.id : category.slug),
    cursor: null,
  }));
  for (let page = 0; page < spec.pagesPerCategory && pages.length > 0; page += 1) {
    const bodies = yield pages.map(({ category, cursor }) => {
      const query = `category=${encodeURIComponent(category)}&limit=${spec.pageLimit}`;
      return get(`/api/v1/products?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    });
    /** @type {{ category: string, cursor: string }[]} */
    const next = [];
    pages.forEach(({ category }, index) => {
      const result = readProductPage(bodies[index], paths);
      productIds.push(...result.ids);
      if (!result.nextCursor) return;
      // The cursor's page starts after (page + 1) x pageLimit products: what OFFSET pagination would skip.
      cursors.push({ category, cursor: result.nextCursor, offset: (page + 1) * spec.pageLimit });
      next.push({ category, cursor: result.nextCursor });
    });
    pages = next;
  }

  const unique = [...new Set(productIds)].sort((a, b) => Number(a) - Number(b));
  const candidates = spreadSample(unique, spec.orderProducts);
  /** @type {unknown[]} */
  const details =
    candidates.length === 0
      ? []
      : yield candidates.map((id) => get(`/api/v1/products/${encodeURIComponent(String(id))}`));
  const orderProductIds = candidates.filter((_, index) => hasStock(details[index], paths, spec.minOrderStock));

  /** @type {Customer[]} */
  const customers = options.tokens.map((token) => ({ token, orderIds: [] }));
  const readers = customers.slice(0, spec.ordersOfCustomers);
  /** @type {unknown[]} */
  const orders =
    readers.length === 0 ? [] : yield readers.map((c) => get('/api/v1/orders', { Authorization: `Bearer ${c.token}` }));
  readers.forEach((customer, index) => {
    customer.orderIds = /** @type {(string | number)[]} */ (readOrderIds(orders[index], paths));
  });

  // Spread the hot products over all categories: the Zipf draw favours the first ids of this list.
  const random = createRandom(options.seed);
  for (let i = unique.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [unique[i], unique[j]] = [at(unique, j), at(unique, i)];
  }
  cursors.sort((a, b) => byCodeUnits(a.category + a.cursor, b.category + b.cursor));
  return { categories, cursors, productIds: unique, orderProductIds, customers };
}

/** Whether any request type of the mix acts as a customer (then a run needs their tokens). @param {Workload} workload */
export function needsCustomers(workload) {
  return Object.values(workload.requests).some((spec) => spec.weight > 0 && spec.auth === 'customer');
}
