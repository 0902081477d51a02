/**
 * Node's driver of the shared discovery (load-tests/lib/discovery.js): it answers each batch of GETs
 * with fetch, four at a time. k6 drives the same generator with http.get in its setup() (load-tests/lib/k6.js).
 */
import { discovery } from '../lib/discovery.js';
import type { DiscoveryGet } from '../lib/discovery.js';
import { seedFrom } from '../lib/workload-core.js';
import type { Workload, WorkloadData } from '../lib/workload-core.js';

export interface DiscoveryOptions {
  baseUrl: string;
  /** Sent with every request (e.g. the load-test key). */
  headers?: Record<string, string>;
  /** Bearer tokens of the customers the run acts as. */
  tokens: readonly string[];
  /** Only these category slugs (tests that browse their own data); default: the categories the API lists. */
  categorySlugs?: readonly string[];
  /** Default: seedFrom(undefined), the seed k6 uses without LOADTEST_SEED. */
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

/** Maps `items` with at most `limit` calls of `work` in flight; results in the order of `items`. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index] as T);
    }
  });
  await Promise.all(runners);
  return results;
}

export async function discover(workload: Workload, options: DiscoveryOptions): Promise<WorkloadData> {
  const baseUrl = options.baseUrl.replace(/\/$/, '');
  const get = (request: DiscoveryGet) => getJson(baseUrl + request.path, { ...options.headers, ...request.headers });
  const steps = discovery(workload, {
    tokens: options.tokens,
    seed: options.seed ?? seedFrom(undefined),
    ...(options.categorySlugs ? { categorySlugs: options.categorySlugs } : {}),
  });
  let step = steps.next();
  while (!step.done) step = steps.next(await mapLimited(step.value, 4, get));
  return step.value;
}
