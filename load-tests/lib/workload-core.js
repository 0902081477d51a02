// @ts-check
/**
 * The workload logic both load generators share: k6 imports this file in its container (`make loadtest`), the
 * native runner imports it in Node (load-tests/native/, `make loadtest-native`, `make test`, `make bench`). It is
 * plain ES2020 with no I/O and no imports but the seeded draws it shares with the seed (core/src/seed/random.js),
 * because k6's JavaScript runtime is not Node: everything here turns workload.json plus the discovered data into
 * concrete requests, and judges responses and results. Discovery, the
 * part that needs the API's answers, is in discovery.js.
 */
import { createRandom, pickWeighted, zipfCumulative } from '../../core/src/seed/random.js';

export { createRandom, pickWeighted, zipfCumulative };

/**
 * @typedef {{ p95Ms: number, p99Ms: number, errorRate: number }} Limits
 * @typedef {{ json?: boolean, arrays?: string[], nonEmpty?: string[], present?: string[], equals?: Record<string, string> }} CheckSpec
 * @typedef {{ weight: number, method: string, path: string, auth: 'none' | 'customer', idempotencyKey?: boolean,
 *   body?: unknown, expect: { status: number[] }, checks?: CheckSpec }} RequestSpec
 * @typedef {{ rate: number, seconds: number }} Stage
 * @typedef {{ name: string, model: 'open', stages: Stage[], maxVUs?: number }
 *   | { name: string, model: 'closed', vus: number, seconds: number, thinkTimeMs: number }} Phase
 * @typedef {{ description: string, thresholds: string, phases: Phase[] }} Scenario
 * @typedef {{ default: Limits, perType?: Record<string, Partial<Limits>>, checks: number }} ThresholdProfile
 * @typedef {{ value: number | string, weight: number }} WeightedValue
 * @typedef {{ limits: WeightedValue[], priceRanges: [number, number][], queries: WeightedValue[],
 *   categorySkew: number, productSkew: number, categoryParam?: 'slug' | 'id',
 *   paths?: Partial<ResponsePaths>,
 *   discovery: { maxCategories: number, pagesPerCategory: number, pageLimit: number, ordersOfCustomers: number,
 *     orderProducts: number, minOrderStock: number } }} DataSpec
 * @typedef {{ items: string, nextCursor: string, id: string, slug: string, stock: string, active: string }} ResponsePaths
 * @typedef {{ version: number, requests: Record<string, RequestSpec>, data: DataSpec,
 *   thresholds: Record<string, ThresholdProfile>, scenarios: Record<string, Scenario> }} Workload
 * @typedef {{ slug: string, id: number }} Category
 * @typedef {{ token: string, orderIds: (string | number)[] }} Customer
 * @typedef {{ categories: Category[], cursors: { category: string, cursor: string, offset?: number }[], productIds: (string | number)[],
 *   orderProductIds: (string | number)[], customers: Customer[] }} WorkloadData
 * @typedef {{ type: string, method: string, path: string, headers: Record<string, string>, body: string | null,
 *   values: Record<string, string> }} PlannedRequest
 */

/** Where the fields the workload needs sit in the API's JSON (dot paths). workload.json data.paths overrides them. */
const DEFAULT_PATHS = Object.freeze({
  items: 'data',
  nextCursor: 'nextCursor',
  id: 'id',
  slug: 'slug',
  stock: 'stock',
  active: 'active',
});

/** @param {Workload} workload @returns {ResponsePaths} */
export function responsePaths(workload) {
  return { ...DEFAULT_PATHS, ...(workload.data.paths || {}) };
}

/**
 * The seed of a run's draws (which products are hot, which requests are sent): LOADTEST_SEED, given to k6 with -e or
 * the environment and to the native runner in its environment, or 7 on both sides. @param {string | undefined} value
 */
export function seedFrom(value) {
  if (value === undefined || value === '') return 7;
  const seed = Number(value);
  if (!Number.isSafeInteger(seed)) throw new Error(`LOADTEST_SEED must be an integer (got '${value}')`);
  return seed;
}

/** @param {number[]} weights @returns {number[]} ascending cumulative weights */
function cumulative(weights) {
  const out = [];
  let sum = 0;
  for (const weight of weights) {
    sum += weight;
    out.push(sum);
  }
  return out;
}

/** Value at a dot path ("data.0.id"); undefined when any step is missing. @param {unknown} value @param {string} path */
export function getPath(value, path) {
  if (path === '') return value;
  let current = /** @type {any} */ (value);
  for (const key of path.split('.')) {
    if (current === null || current === undefined || typeof current !== 'object') return undefined;
    current = current[key];
  }
  return current;
}

/** Replaces {name} with values[name] (URL-encoded in paths). @param {string} template @param {Record<string, string>} values */
export function fillPath(template, values) {
  return template.replace(/\{([A-Za-z]+)\}/g, (_, /** @type {string} */ name) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for {${name}} in ${template}`);
    return encodeURIComponent(value);
  });
}

/**
 * Deep copy of a body template with "{name}" strings replaced; a whole-string placeholder of digits becomes a number.
 * @param {unknown} template @param {Record<string, string>} values @returns {unknown}
 */
function fillBody(template, values) {
  if (typeof template === 'string') {
    const whole = /^\{([A-Za-z]+)\}$/.exec(template);
    if (whole) {
      const value = values[whole[1] || ''];
      if (value === undefined) throw new Error(`no value for ${template}`);
      return /^-?\d+$/.test(value) ? Number(value) : value;
    }
    return template.replace(/\{([A-Za-z]+)\}/g, (_, /** @type {string} */ name) => values[name] || '');
  }
  if (Array.isArray(template)) return template.map((item) => fillBody(item, values));
  if (template && typeof template === 'object') {
    /** @type {Record<string, unknown>} */
    const out = {};
    for (const [key, item] of Object.entries(template)) out[key] = fillBody(item, values);
    return out;
  }
  return template;
}

/**
 * The item at `index`; throws instead of returning undefined, so an empty list fails loudly.
 * @template T @param {readonly T[]} items @param {number} index @returns {T}
 */
export function at(items, index) {
  const item = items[index];
  if (item === undefined) throw new Error(`no item ${index} in a list of ${items.length}`);
  return item;
}

/** The spec of a request type. @param {Workload} workload @param {string} type @returns {RequestSpec} */
export function requestSpec(workload, type) {
  const spec = workload.requests[type];
  if (!spec) throw new Error(`unknown request type ${type}`);
  return spec;
}

/**
 * Precomputed pickers for one workload and one set of discovered data.
 * @param {Workload} workload
 * @param {WorkloadData} data
 */
export function createPlanner(workload, data) {
  const weighted = Object.keys(workload.requests).filter((name) => requestSpec(workload, name).weight > 0);
  // Types the data cannot serve (no customers, no orders yet...) are left out of the draw and reported as missing.
  const types = weighted.filter((name) => canPlan(requestSpec(workload, name), data));
  const missing = weighted.filter((name) => !types.includes(name));
  const typeCum = cumulative(types.map((name) => requestSpec(workload, name).weight));
  const limitCum = cumulative(workload.data.limits.map((item) => item.weight));
  const queryCum = cumulative(workload.data.queries.map((item) => item.weight));
  const categoryCum = zipfCumulative(data.categories.length, workload.data.categorySkew);
  const productCum = zipfCumulative(data.productIds.length, workload.data.productSkew);
  const categoryParam = workload.data.categoryParam || 'slug';
  const customersWithOrders = data.customers.filter((customer) => customer.orderIds.length > 0);

  /** @param {() => number} random @returns {string} */
  function pickType(random) {
    return at(types, pickWeighted(typeCum, random));
  }

  /**
   * A concrete request of `type`. `sequence` makes idempotency keys unique within a run; `runId` across runs.
   * @param {string} type @param {() => number} random @param {{ runId: string, sequence: number, extraHeaders?: Record<string, string> }} options
   * @returns {PlannedRequest}
   */
  function plan(type, random, options) {
    const spec = requestSpec(workload, type);
    /** @type {<T>(items: readonly T[]) => T} */
    const pick = (items) => at(items, Math.floor(random() * items.length));
    /** @type {Record<string, string>} */
    const values = {};
    if (data.categories.length > 0) {
      const category = at(data.categories, pickWeighted(categoryCum, random));
      values.category = String(categoryParam === 'id' ? category.id : category.slug);
    }
    values.limit = String(at(workload.data.limits, pickWeighted(limitCum, random)).value);
    const range = pick(workload.data.priceRanges);
    values.minPrice = String(range[0]);
    values.maxPrice = String(range[1]);
    values.query = String(at(workload.data.queries, pickWeighted(queryCum, random)).value);
    if (data.productIds.length > 0) values.productId = String(at(data.productIds, pickWeighted(productCum, random)));
    if (data.orderProductIds.length > 0) values.orderProductId = String(pick(data.orderProductIds));
    if (spec.path.includes('{cursor}')) {
      const page = pick(data.cursors);
      values.cursor = page.cursor;
      values.category = page.category;
    }
    /** @type {Record<string, string>} */
    const headers = { Accept: 'application/json', ...(options.extraHeaders || {}) };
    if (spec.auth === 'customer') {
      const needsOrder = spec.path.includes('{orderId}');
      const customer = pick(needsOrder ? customersWithOrders : data.customers);
      headers.Authorization = `Bearer ${customer.token}`;
      if (needsOrder) values.orderId = String(pick(customer.orderIds));
    }
    let body = null;
    if (spec.body !== undefined) {
      body = JSON.stringify(fillBody(spec.body, values));
      headers['Content-Type'] = 'application/json';
    }
    if (spec.idempotencyKey) headers['Idempotency-Key'] = `lt-${options.runId}-${options.sequence}`;
    return { type, method: spec.method, path: fillPath(spec.path, values), headers, body, values };
  }

  return { types, missing, pickType, plan };
}

/** Whether the discovered data has what a request type needs. @param {RequestSpec} spec @param {WorkloadData} data */
function canPlan(spec, data) {
  const text = spec.path + JSON.stringify(spec.body || '');
  if (text.includes('{category}') && data.categories.length === 0) return false;
  if (text.includes('{cursor}') && data.cursors.length === 0) return false;
  if (text.includes('{productId}') && data.productIds.length === 0) return false;
  if (text.includes('{orderProductId}') && data.orderProductIds.length === 0) return false;
  if (spec.auth === 'customer' && data.customers.length === 0) return false;
  return !(text.includes('{orderId}') && !data.customers.some((customer) => customer.orderIds.length > 0));
}

/**
 * Failed check names for one response (empty: all passed). Checks run only on an expected status; an unexpected
 * status is already an error and fails the "status" check.
 * @param {RequestSpec} spec @param {number} status @param {string | null} bodyText @param {Record<string, string>} values
 * @returns {string[]}
 */
export function failedChecks(spec, status, bodyText, values) {
  if (!spec.expect.status.includes(status)) return [`status ${spec.expect.status.join('|')}`];
  const checks = spec.checks || {};
  if (!checks.json) return [];
  /** @type {unknown} */
  let body;
  try {
    body = JSON.parse(bodyText || '');
  } catch {
    return ['json body'];
  }
  const failed = [];
  for (const path of checks.arrays || []) if (!Array.isArray(getPath(body, path))) failed.push(`${path} is an array`);
  for (const path of checks.nonEmpty || []) {
    const value = getPath(body, path);
    if (!Array.isArray(value) || value.length === 0) failed.push(`${path} is not empty`);
  }
  for (const path of checks.present || []) {
    const value = getPath(body, path);
    if (value === undefined || value === null) failed.push(`${path} is present`);
  }
  for (const [path, template] of Object.entries(checks.equals || {})) {
    const expected = template.replace(/\{([A-Za-z]+)\}/g, (_, /** @type {string} */ name) => values[name] || '');
    if (String(getPath(body, path)) !== expected) failed.push(`${path} = ${template}`);
  }
  return failed;
}

/** Limits for every request type under a threshold profile. @param {Workload} workload @param {string} profileName */
export function limitsFor(workload, profileName) {
  const profile = workload.thresholds[profileName];
  if (!profile) throw new Error(`unknown threshold profile ${profileName}`);
  /** @type {Record<string, Limits>} */
  const byType = {};
  for (const type of Object.keys(workload.requests)) {
    byType[type] = { ...profile.default, ...((profile.perType || {})[type] || {}) };
  }
  return { byType, checks: profile.checks };
}

/** Token of load-test customer n (1-based), as the seed stores it (core/src/seed/loadtest-tokens.ts). */
export function loadtestToken(/** @type {string} */ secret, /** @type {number} */ customer) {
  return `${secret}-c${customer}`;
}
