/**
 * What every benchmark key measures with: the bench stack, its catalog (small or large), the workload and its data,
 * the reference servers (started through the context so the run stops them whatever happens), the log and the CPU
 * roles. Built once by the runner (bench/run.ts); shared pieces are prepared the first time a key asks for them.
 */
import { join } from 'node:path';
import type { Workload } from '../../load-tests/lib/workload-core.js';
import { loadtestToken } from '../../load-tests/lib/workload-core.js';
import { discover } from '../../load-tests/native/discover.ts';
import { loadWorkload, stackTokenSecret } from '../../load-tests/native/run.ts';
import type { RunContext } from '../../load-tests/native/scenario.ts';
import type { CleanupStack } from './cleanup.ts';
import { createNaiveSchema, flushCache, LOADTEST_CUSTOMERS, prepareOrderProducts, seedCatalog } from './data.ts';
import { planMix, type Environment } from './measure.ts';
import type { Reference } from './references.ts';
import type { BenchKey } from './results.ts';
import type { BenchOptions, MeasurementSettings } from './settings.ts';
import { loadStack, restartNginxEmpty, stackRoles, type BenchStack } from './stack.ts';
import { explainWithProfile } from './verdict.ts';

export const log = (line: string): void => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

export const SMALL_PRODUCTS = 10_000;

export interface Catalog {
  /** Reseeds 10,000 products; only before the large catalog (keys that need it run first). */
  useSmall(): Promise<void>;
  /** Seeds the large catalog (BENCH_LARGE_PRODUCTS), the products orders buy and the naive copy; once. */
  useLarge(): Promise<void>;
  /** The products order benchmarks buy (bench_order_products), once the large catalog is seeded. */
  orderProducts(): readonly number[];
}

/** The most frequent anonymous GET of the workload mix, as nginx answers it. */
export interface HottestRead {
  path: string;
  url: string;
  /** Share of the mix's requests. */
  share: number;
  body: Buffer;
  headers: Headers;
}

export interface BenchContext {
  readonly settings: MeasurementSettings;
  readonly env: Environment;
  /** The bench stack as it is now (read again after the large seed). */
  readonly stack: BenchStack;
  readonly databaseUrl: string;
  /** Scratch folder of this run (deleted at the end). */
  readonly workDir: string;
  /** wrk's options for a throughput measurement: settings.wrk_connections connections, 2 threads, wrk_seconds. */
  readonly wrk: { connections: number; threads: number; seconds: number; workDir: string };
  /** Sent with every request through nginx: the load-test key that lifts its rate limit. */
  readonly edgeHeaders: Readonly<Record<string, string>>;
  readonly loadtestKey: string;
  /** Bearer tokens of the load-test customers. */
  readonly tokens: readonly string[];
  readonly workload: Workload;
  /** Facts about the data, recorded as `data` in latest.json. */
  readonly data: Record<string, unknown>;
  readonly catalog: Catalog;
  /** The stack's context for the workload mix, its data discovered through nginx at the large catalog (once). */
  mixContext(): Promise<RunContext>;
  hottestRead(): Promise<HottestRead>;
  /** Starts a reference server, gives it to `work` and stops it afterwards (or at the end of the run, if interrupted). */
  withReference<T>(start: () => Promise<Reference>, work: (reference: Reference) => Promise<T>): Promise<T>;
  /** explainWithProfile (lib/verdict.ts) on the first process of a role of the stack (api-1, worker-1). */
  explainWithProfile(key: BenchKey, role: 'api' | 'worker', rerun: () => Promise<unknown>): Promise<void>;
}

export async function createBenchContext(
  options: BenchOptions,
  initialStack: BenchStack,
  workDir: string,
  cores: number,
  cleanup: CleanupStack,
): Promise<BenchContext> {
  // The stack as it is now: the large seed restarts nginx and reads stack.env again.
  const current = { stack: initialStack };
  const references = new Set<Reference>();
  cleanup.defer('stop the references', async () => {
    await Promise.allSettled([...references].map((reference) => reference.stop()));
  });
  const roles = () => {
    const out: Record<string, number[]> = stackRoles(current.stack);
    for (const reference of references) out[reference.name] = [reference.pid];
    out['bench-runner'] = [process.pid];
    return out;
  };
  const env: Environment = { roles, cores, log };
  const { env: stackEnv } = current.stack;
  const loadtestKey = stackEnv.LOADTEST_KEY;
  if (!loadtestKey) throw new Error('stack.env has no LOADTEST_KEY: nginx would rate-limit the benchmark');
  const edgeHeaders = { 'X-Loadtest-Key': loadtestKey };
  const tokenSecret = stackTokenSecret(stackEnv.API_TOKEN_PEPPER ?? '');
  const tokens = Array.from({ length: LOADTEST_CUSTOMERS }, (_, i) => loadtestToken(tokenSecret, i + 1));
  const workload = await loadWorkload();
  const data: Record<string, unknown> = {};
  const databaseUrl = stackEnv.DATABASE_URL ?? '';

  const catalog = createCatalog(options, current, data, tokenSecret);

  const mixContext = once(async (): Promise<RunContext> => {
    await catalog.useLarge();
    log('discovering the workload data through nginx');
    return {
      workload,
      data: await discover(workload, { baseUrl: current.stack.nginxUrl, headers: edgeHeaders, tokens }),
      baseUrl: current.stack.nginxUrl,
      headers: edgeHeaders,
      runId: `b${Date.now().toString(36)}`,
      workDir: join(workDir, 'mix'),
      checkRate: 5,
    };
  });
  const hottestRead = once(async (): Promise<HottestRead> => {
    const { path, share } = mostFrequentRead(await mixContext());
    const url = current.stack.nginxUrl + path;
    const response = await fetch(url, { headers: edgeHeaders });
    const body = Buffer.from(await response.arrayBuffer());
    data.hottest_read = { path, share_of_requests: share, bytes: body.length };
    log(`hottest public read: ${path} (${(share * 100).toFixed(1)}% of the mix, ${body.length} bytes)`);
    return { path, url, share, body, headers: response.headers };
  });

  return {
    settings: options.measurement,
    env,
    get stack() {
      return current.stack;
    },
    databaseUrl,
    workDir,
    wrk: {
      connections: options.measurement.wrk_connections,
      threads: 2,
      seconds: options.measurement.wrk_seconds,
      workDir,
    },
    edgeHeaders,
    loadtestKey,
    tokens,
    workload,
    data,
    catalog,
    mixContext,
    hottestRead,
    async withReference(start, work) {
      const reference = await start();
      references.add(reference);
      try {
        return await work(reference);
      } finally {
        references.delete(reference);
        await reference.stop();
      }
    },
    async explainWithProfile(key, role, rerun) {
      const target = { name: `${role}-1`, pid: stackRoles(current.stack)[role]?.[0] };
      await explainWithProfile(key, target, rerun, log);
    },
  };
}

/** The catalog of the bench stack's database: 10,000 products first when a key wants them, then the large one. */
function createCatalog(
  options: BenchOptions,
  current: { stack: BenchStack },
  data: Record<string, unknown>,
  tokenSecret: string,
): Catalog {
  const databaseUrl = current.stack.env.DATABASE_URL ?? '';
  let orderProducts: number[] | undefined;
  let large: Promise<void> | undefined;
  const seedLarge = async () => {
    const { stack } = current;
    log(`seeding ${options.largeProducts.toLocaleString('en')} products`);
    data.seed_1m_seconds = await seedCatalog(stack, options.largeProducts, tokenSecret);
    orderProducts = await prepareOrderProducts(databaseUrl, options.measurement.order_products);
    log(`copying the data into schema naive (single-column indexes only)`);
    data.naive_copy_seconds = await createNaiveSchema(databaseUrl);
    await flushCache(stack);
    await restartNginxEmpty(stack);
    current.stack = loadStack(stack.dir);
  };
  return {
    async useSmall() {
      if (large) throw new Error('the small catalog is measured before the large one: run such keys first');
      log(`seeding ${SMALL_PRODUCTS.toLocaleString('en')} products`);
      data.seed_10k_seconds = await seedCatalog(current.stack, SMALL_PRODUCTS, tokenSecret);
      await flushCache(current.stack);
      await restartNginxEmpty(current.stack);
    },
    useLarge() {
      large ??= seedLarge();
      return large;
    },
    orderProducts() {
      if (!orderProducts) throw new Error('the order products exist once the large catalog is seeded');
      return orderProducts;
    },
  };
}

/** The most frequent anonymous GET URL of the mix (sampled with the workload's own weights and skews). */
function mostFrequentRead(context: RunContext): { path: string; share: number } {
  const sample = planMix(context, 50_000, 4242, 0);
  const counts = new Map<string, number>();
  for (const request of sample) {
    if (request.method !== 'GET' || request.headers.Authorization) continue;
    counts.set(request.path, (counts.get(request.path) ?? 0) + 1);
  }
  const [path, count] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? ['/api/v1/categories', 0];
  return { path, share: count / sample.length };
}

/** A function of no arguments run at most once; later calls get the first call's promise. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= make());
}
