/**
 * `make bench`: in one run on the native stack, measures the stack against references started beside it and writes
 * bench/results/latest.json and bench/results/latest.md (ratios, so the machine's speed cancels out, with the
 * absolute figures and a CPU profile beside each). See bench/README.md for what each key measures.
 *
 *   node bench/run.ts            (scripts/bench/bench.sh sets up the load generators and Node 24 first)
 *
 * Environment: BENCH_NATIVE_DIR [.native-bench], BENCH_SCALE [1] (multiplies every measurement's duration; 0.3 for a
 * quick check of the tooling), BENCH_KEEP=1 (leave the bench stack running), BENCH_ONLY=key1,key2 (measure a subset),
 * BENCH_LARGE_PRODUCTS [1000000] (a smaller large data set for checking the tooling only: the key keeps its name).
 */
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { loadtestToken, zipfCumulative, pickIndex, createRandom } from '../load-tests/lib/workload-core.js';
import type { PlannedRequest, RequestSpec, WorkloadData } from '../load-tests/lib/workload-core.js';
import { discover } from '../load-tests/native/discover.ts';
import { repoRoot } from '../load-tests/native/paths.ts';
import { loadWorkload, stackTokenSecret } from '../load-tests/native/run.ts';
import type { RunContext } from '../load-tests/native/scenario.ts';
import { percentile } from '../load-tests/native/stats.ts';
import { vegetaBinary } from '../load-tests/native/vegeta.ts';
import { luaString } from '../load-tests/native/wrk.ts';
import { describeProfile, startCpuProfile, type CpuProfile } from './lib/cpu.ts';
import {
  createNaiveSchema,
  explain,
  flushCache,
  LOADTEST_CUSTOMERS,
  loadtestUserIds,
  prepareOrderProducts,
  seedCatalog,
  withClient,
} from './lib/data.ts';
import { machine, versions } from './lib/machine.ts';
import {
  measureOpen,
  measureWrk,
  planMix,
  searchMaxRate,
  type Environment,
  type Figures,
  type Measured,
  type RateSearch,
} from './lib/measure.ts';
import { startBareNode, startNaive, startNginxStatic, type Reference } from './lib/references.ts';
import { loadStack, native, restartNginxEmpty, stackPid, stackRoles, stackUp, type BenchStack } from './lib/stack.ts';
import { describeNodeProfile, profileNodeProcess } from './lib/node-profile.ts';
import { markdownTable, updateReadmeMarkers, type BenchKey, type BenchResults } from './lib/results.ts';

const run = promisify(execFile);

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const seconds = (value: number) => Math.max(2, Math.round(value * SCALE));
const ONLY = new Set((process.env.BENCH_ONLY ?? '').split(',').filter(Boolean));
const wanted = (key: string) => ONLY.size === 0 || ONLY.has(key);
const CONNECTIONS = 64;
const LARGE = Number(process.env.BENCH_LARGE_PRODUCTS ?? 1_000_000);
const SETTINGS = {
  api_processes: 2,
  workers: 1,
  wrk_connections: CONNECTIONS,
  wrk_threads: 2,
  wrk_seconds: seconds(10),
  mix_probe_seconds: seconds(10),
  mix_budget: { p99_ms: 100, errors: 0.001 },
  latency_rate_per_s: 25,
  latency_seconds: seconds(8),
  order_connections: [32, 64],
  pgbench_clients: [8, 16, 32],
  order_seconds: seconds(10),
  import_rows: Math.max(10_000, Math.round(100_000 * Math.min(1, SCALE))),
  order_products: 5_000,
};

const log = (line: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
const r2 = (value: number) => Math.round(value * 100) / 100;

function ratioKey(
  target: { op: '>=' | '<='; value: number },
  stack: Measured<unknown> | undefined,
  reference: Measured<unknown> | undefined,
  ratio: number | null,
  method: string,
  explainMiss: () => string,
): BenchKey {
  const met = ratio === null ? null : target.op === '>=' ? ratio >= target.value : ratio <= target.value;
  return {
    ratio: ratio === null ? null : r2(ratio),
    target: `${target.op} ${target.value}`,
    met,
    stack: stack ? { ...stack.figures, cpu: stack.cpu } : null,
    reference: reference ? { ...reference.figures, cpu: reference.cpu } : null,
    method,
    note: met === false ? explainMiss() : '',
  };
}

/** What limited a throughput measurement, from its CPU profile. */
function throughputLimit(label: string, cpu: CpuProfile): string {
  const busy = cpu.machineCores - cpu.idle;
  const saturated = cpu.idle < 0.15 * cpu.machineCores;
  const top = Object.entries(cpu.cores).sort((a, b) => b[1] - a[1])[0];
  const shared = [
    cpu.other >= 0.25 ? `other processes on the machine took ${cpu.other} cores` : '',
    cpu.steal >= 0.1 ? `the hypervisor took ${cpu.steal} cores (steal)` : '',
  ]
    .filter(Boolean)
    .map((text) => `; ${text}`)
    .join('');
  return (
    `${label}: ${saturated ? 'CPU-bound' : 'not CPU-bound'} (${r2(busy)} of ${cpu.machineCores} cores busy); ` +
    `profile ${describeProfile(cpu)}${top ? `; largest consumer of ours: ${top[0]}` : ''}${shared}`
  );
}

async function main(): Promise<void> {
  const started = Date.now();
  const dirName = process.env.BENCH_NATIVE_DIR ?? '.native-bench';
  const dir = isAbsolute(dirName) ? dirName : join(repoRoot, dirName);
  const workDir = join(repoRoot, 'bench', 'results', 'work');
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  vegetaBinary();

  const host = machine();
  log(`machine: ${host.cores} cores (${host.cpu}), load average ${host.load_average_at_start.join(' ')}`);
  if (host.load_average_at_start[0] !== undefined && host.load_average_at_start[0] > host.cores * 0.5) {
    log('WARNING: the machine is busy; ratios hold up better than absolute figures, but a quiet machine is better');
  }

  log(`native stack up in ${dir} (2 api, 1 worker)`);
  const references: Reference[] = [];
  // Whatever happens (an error, Ctrl-C), stop what this run started: the references and the bench stack.
  cleanup = async () => {
    cleanup = undefined;
    for (const reference of [...references]) await reference.stop().catch(() => undefined);
    if (process.env.BENCH_KEEP === '1') {
      log(`bench stack left running in ${dir} (scripts/native.sh down with NATIVE_DIR=${dir} stops it)`);
    } else {
      await native(dir, ['down', '--purge']).catch((error: unknown) => log(`native.sh down failed: ${String(error)}`));
    }
    await rm(workDir, { recursive: true, force: true });
  };
  let stack: BenchStack = await stackUp(dir, SETTINGS.api_processes, SETTINGS.workers);
  const roles = () => {
    const out: Record<string, number[]> = stackRoles(stack);
    for (const reference of references) out[reference.name] = [reference.pid];
    out['bench-runner'] = [process.pid];
    return out;
  };
  const env: Environment = { roles, cores: host.cores, log };
  const loadtestKey = stack.env.LOADTEST_KEY;
  if (!loadtestKey) throw new Error('stack.env has no LOADTEST_KEY: nginx would rate-limit the benchmark');
  const edgeHeaders = { 'X-Loadtest-Key': loadtestKey };
  const secret = stackTokenSecret(stack.env.API_TOKEN_PEPPER ?? '');
  const tokens = Array.from({ length: LOADTEST_CUSTOMERS }, (_, i) => loadtestToken(secret, i + 1));
  const workload = await loadWorkload();
  const results: Partial<Record<string, BenchKey>> = {};
  const data: Record<string, unknown> = {};

  // ---- list latency at 10,000 products ---------------------------------------------------------------------
  const listProbe = async (size: string) => {
    const requests = await uncachedListRequests(stack, edgeHeaders, 400);
    const context: RunContext = {
      workload,
      data: emptyData(),
      baseUrl: stack.nginxUrl,
      headers: edgeHeaders,
      runId: `lat${size}`,
      workDir: join(workDir, `latency-${size}`),
      extraTypes: LATENCY_TYPES,
    };
    const stage = (name: string) => ({ name, rate: SETTINGS.latency_rate_per_s, seconds: SETTINGS.latency_seconds });
    const list = await measureOpen(env, context, requests.list, stage(`list-${size}`));
    const search = await measureOpen(env, context, requests.search, stage(`search-${size}`));
    return { list, search, plans: await requests.explain() };
  };

  let latency10k: Awaited<ReturnType<typeof listProbe>> | undefined;
  if (wanted('list_latency_1m_vs_10k')) {
    log('seeding 10,000 products');
    data.seed_10k_seconds = await seedCatalog(stack, 10_000, secret);
    await flushCache(stack);
    await restartNginxEmpty(stack);
    log('list latency at 10,000 products (uncached pages and searches, through nginx and the api)');
    latency10k = await listProbe('10k');
  }

  log(`seeding ${LARGE.toLocaleString('en')} products`);
  data.seed_1m_seconds = await seedCatalog(stack, LARGE, secret);
  const orderProducts = await prepareOrderProducts(stack.env.DATABASE_URL ?? '', SETTINGS.order_products);
  log(`copying the data into schema naive (single-column indexes only)`);
  data.naive_copy_seconds = await createNaiveSchema(stack.env.DATABASE_URL ?? '');
  await flushCache(stack);
  await restartNginxEmpty(stack);
  stack = loadStack(dir);

  if (latency10k) {
    log('list latency at 1,000,000 products');
    const latency1m = await listProbe('1m');
    const listRatio = latency1m.list.figures.p50_ms / latency10k.list.figures.p50_ms;
    const searchRatio = latency1m.search.figures.p50_ms / latency10k.search.figures.p50_ms;
    const worse = listRatio >= searchRatio ? 'list' : 'search';
    const key = ratioKey(
      { op: '<=', value: 1.5 },
      worse === 'list' ? latency1m.list : latency1m.search,
      worse === 'list' ? latency10k.list : latency10k.search,
      Math.max(listRatio, searchRatio),
      `p50 of uncached requests (unique URLs: no Redis or edge hit) at ${SETTINGS.latency_rate_per_s} req/s through nginx ` +
        `and the api, at 1,000,000 products / at 10,000. list = a category page at a random keyset position; ` +
        `search = first page of a two-word search taken from product names. ratio = the worse of the two; ` +
        `stack = 1M figures, reference = 10k figures of that one.`,
      () =>
        `${worse} p50 grows ${r2(Math.max(listRatio, searchRatio))}x from 10k to 1M. Postgres plans at 1M: ` +
        `list ${latency1m.plans.list.executionMs} ms [${latency1m.plans.list.nodes.join(' > ')}], ` +
        `search ${latency1m.plans.search.executionMs} ms [${latency1m.plans.search.nodes.join(' > ')}]; at 10k: ` +
        `list ${latency10k?.plans.list.executionMs} ms, search ${latency10k?.plans.search.executionMs} ms.`,
    );
    key.parts = {
      list: {
        ratio: r2(listRatio),
        p50_ms_1m: latency1m.list.figures.p50_ms,
        p50_ms_10k: latency10k.list.figures.p50_ms,
        at_1m: latency1m.list.figures,
        at_10k: latency10k.list.figures,
        postgres_plan_1m: latency1m.plans.list,
        postgres_plan_10k: latency10k.plans.list,
        // Share of answers nginx served from its micro-cache: 0 when every URL really was uncached.
        edge_cache_hits: [latency1m.list.detail.edgeCacheHits, latency10k.list.detail.edgeCacheHits],
      },
      search: {
        ratio: r2(searchRatio),
        p50_ms_1m: latency1m.search.figures.p50_ms,
        p50_ms_10k: latency10k.search.figures.p50_ms,
        at_1m: latency1m.search.figures,
        at_10k: latency10k.search.figures,
        postgres_plan_1m: latency1m.plans.search,
        postgres_plan_10k: latency10k.plans.search,
        edge_cache_hits: [latency1m.search.detail.edgeCacheHits, latency10k.search.detail.edgeCacheHits],
      },
    };
    results.list_latency_1m_vs_10k = key;
  }

  log('discovering the workload data through nginx');
  const mixData = await discover(workload, { baseUrl: stack.nginxUrl, headers: edgeHeaders, tokens });
  const stackContext: RunContext = {
    workload,
    data: mixData,
    baseUrl: stack.nginxUrl,
    headers: edgeHeaders,
    runId: `b${Date.now().toString(36)}`,
    workDir: join(workDir, 'mix'),
    checkRate: 5,
  };

  // ---- hottest public read vs nginx static -----------------------------------------------------------------
  const hot = hottestRead(stackContext);
  const hotUrl = stack.nginxUrl + hot.path;
  const hotResponse = await fetch(hotUrl, { headers: edgeHeaders });
  const hotBody = Buffer.from(await hotResponse.arrayBuffer());
  data.hottest_read = { path: hot.path, share_of_requests: hot.share, bytes: hotBody.length };
  log(`hottest public read: ${hot.path} (${(hot.share * 100).toFixed(1)}% of the mix, ${hotBody.length} bytes)`);
  const wrkBase = { connections: CONNECTIONS, threads: 2, seconds: SETTINGS.wrk_seconds, workDir };

  if (wanted('hot_read_vs_nginx_static')) {
    const viaStack = await measureWrk(env, { ...wrkBase, url: hotUrl, headers: edgeHeaders, name: 'hot-read-stack' });
    const edgeCheck = await fetch(hotUrl, { headers: edgeHeaders });
    await edgeCheck.arrayBuffer();
    const staticRef = await startNginxStatic(workDir, hotBody);
    references.push(staticRef);
    const viaStatic = await measureWrk(env, {
      ...wrkBase,
      url: staticRef.url,
      headers: edgeHeaders,
      name: 'hot-read-nginx-static',
    });
    await stopReference(references, staticRef);
    results.hot_read_vs_nginx_static = ratioKey(
      { op: '>=', value: 0.4 },
      viaStack,
      viaStatic,
      viaStack.figures.req_per_s / viaStatic.figures.req_per_s,
      `wrk, ${CONNECTIONS} connections, ${SETTINGS.wrk_seconds} s, GET ${hot.path} without Accept-Encoding: ` +
        `through nginx (micro-cache) / nginx 1.22 serving the same ${hotBody.length} bytes from a file.`,
      () => throughputLimit('stack', viaStack.cpu) + '. ' + throughputLimit('reference', viaStatic.cpu),
    );
    // HIT: nginx answered from its micro-cache, as the hottest read should be.
    results.hot_read_vs_nginx_static.edge_cache_status = edgeCheck.headers.get('x-cache-status');
  }

  // ---- Redis-cached read with the edge cache bypassed vs bare Node -------------------------------------------
  if (wanted('cached_read_vs_bare_node')) {
    // Any Cookie makes nginx skip its micro-cache ($edge_skip_cache); the api ignores cookies, so this is a Redis hit.
    const bypass = { ...edgeHeaders, Cookie: 'bench=edge-bypass' };
    const check = await fetch(hotUrl, { headers: bypass });
    await check.arrayBuffer();
    const edgeStatus = check.headers.get('x-cache-status');
    const contentHeaders: Record<string, string> = {};
    for (const name of ['content-type', 'etag', 'cache-control', 'vary']) {
      const value = hotResponse.headers.get(name);
      if (value) contentHeaders[name] = value;
    }
    const viaStack = await measureWrk(env, { ...wrkBase, url: hotUrl, headers: bypass, name: 'cached-read-stack' });
    const bare = await startBareNode(workDir, hotBody, contentHeaders);
    references.push(bare);
    const viaBare = await measureWrk(env, {
      ...wrkBase,
      url: bare.url,
      headers: bypass,
      name: 'cached-read-bare-node',
    });
    await stopReference(references, bare);
    const key = ratioKey(
      { op: '>=', value: 0.5 },
      viaStack,
      viaBare,
      viaStack.figures.req_per_s / viaBare.figures.req_per_s,
      `wrk, ${CONNECTIONS} connections, ${SETTINGS.wrk_seconds} s, GET ${hot.path} with a Cookie so nginx bypasses ` +
        `its micro-cache (X-Cache-Status: ${edgeStatus ?? 'none'}); the api answers from Redis. Through nginx and ` +
        `${SETTINGS.api_processes} api processes / one bare Node ${process.version} process serving the same bytes from memory.`,
      () => throughputLimit('stack', viaStack.cpu) + '. ' + throughputLimit('reference', viaBare.cpu),
    );
    key.edge_cache_status = edgeStatus;
    await explainWithProfile(key, stack, 'api-1', () =>
      measureWrk(env, { ...wrkBase, seconds: 4, url: hotUrl, headers: bypass, name: 'cached-read-stack-profiled' }, 0),
    );
    results.cached_read_vs_bare_node = key;
  }

  // ---- mixed workload: highest arrival rate within the budget, stack vs naive -------------------------------
  if (wanted('mix_vs_naive')) {
    const budget = { p99Ms: SETTINGS.mix_budget.p99_ms, maxErrors: SETTINGS.mix_budget.errors };
    const probeSeconds = SETTINGS.mix_probe_seconds;
    let sequence = 0;
    // A probe lasts long enough for about 300 requests (at most 3x the base duration), so a p99 at a low rate is
    // not just the single slowest request.
    const durationAt = (rate: number) => Math.min(probeSeconds * 3, Math.max(probeSeconds, Math.ceil(300 / rate)));
    const mixProbe =
      (context: RunContext, label: string, rewrite: (r: PlannedRequest) => PlannedRequest) => async (rate: number) => {
        const seconds = durationAt(rate);
        const count = Math.ceil(rate * seconds) + 1;
        const requests = planMix(context, count, 1_000 + rate, sequence).map(rewrite);
        sequence += count;
        return measureOpen(env, context, requests, { name: `mix-${label}-${rate}`, rate, seconds });
      };
    log(`mix on the stack: highest rate with p99 < ${budget.p99Ms} ms and errors < ${budget.maxErrors * 100}%`);
    const stackProbe = mixProbe(stackContext, 'stack', (r) => r);
    // Warm-up (JIT, pools, caches), not recorded.
    const stackWarmup = { ...stackContext, runId: `${stackContext.runId}w` };
    await measureOpen(env, stackWarmup, planMix(stackWarmup, 1_000, 5, 0), {
      name: 'mix-stack-warmup',
      rate: 100,
      seconds: 10,
    });
    const stackSearch = await searchMaxRate(stackProbe, budget, {
      start: 400,
      maxProbes: 9,
      precision: 0.1,
      ceiling: 20_000,
    });

    const naive = await startNaive(stack.env.DATABASE_URL ?? '', stack.env.API_TOKEN_PEPPER ?? '');
    references.push(naive);
    const naiveContext: RunContext = {
      ...stackContext,
      baseUrl: naive.url,
      headers: {},
      workDir: join(workDir, 'naive'),
    };
    const offsets = new Map(mixData.cursors.map((c) => [c.cursor, c.offset ?? 0]));
    const toOffset = (request: PlannedRequest): PlannedRequest => {
      const cursor = request.values.cursor;
      if (cursor === undefined) return request;
      const path = request.path.replace(`cursor=${encodeURIComponent(cursor)}`, `offset=${offsets.get(cursor) ?? 0}`);
      return { ...request, path };
    };
    log('mix on the naive reference (one Express process, pool 50, no cache, no nginx, OFFSET, single-column indexes)');
    const naiveProbe = mixProbe(naiveContext, 'naive', toOffset);
    const naiveWarmup = { ...naiveContext, runId: `${naiveContext.runId}w` };
    await measureOpen(env, naiveWarmup, planMix(naiveWarmup, 50, 7, 0).map(toOffset), {
      name: 'mix-naive-warmup',
      rate: 10,
      seconds: 5,
    });
    const naiveSearch = await searchMaxRate(naiveProbe, budget, {
      start: 40,
      maxProbes: 8,
      precision: 0.1,
      ceiling: 5_000,
    });
    await stopReference(references, naive);

    const best = (search: RateSearch): Measured<unknown> | undefined => {
      const probe = search.best ?? search.failedAt;
      return probe ? { figures: probe.figures, detail: null, cpu: probe.cpu } : undefined;
    };
    // When the naive app holds the budget at no rate, not even the lowest probed one, the ratio is a lower bound:
    // stack rate / that lowest rate.
    const lowestNaive = Math.min(...naiveSearch.probes.map((p) => p.rate));
    const ratio = naiveSearch.rate > 0 ? stackSearch.rate / naiveSearch.rate : stackSearch.rate / lowestNaive;
    const key = ratioKey(
      { op: '>=', value: 10 },
      best(stackSearch),
      best(naiveSearch),
      ratio,
      `vegeta, open model, ${probeSeconds} s per probe: the workload.json mix (same requests for the same rate on both; ` +
        `the naive app gets offset= where the stack gets its cursor). Highest arrival rate with p99 < ` +
        `${budget.p99Ms} ms and < ${budget.maxErrors * 100}% errors, found by doubling then bisecting. ` +
        `stack/reference figures are those of the best passing probe (or the first failing one when none passed).`,
      () => {
        const limit = stackSearch.failedAt;
        if (!limit) return 'stack: no failing probe (ceiling reached)';
        const slowest = Object.entries(limit.byType).sort((a, b) => b[1].stats.p99Ms - a[1].stats.p99Ms)[0];
        return (
          `stack breaks at ${limit.rate} req/s: p99 ${limit.figures.p99_ms} ms, errors ${limit.figures.errors}` +
          `${slowest ? `, slowest type ${slowest[0]} (p99 ${slowest[1].stats.p99Ms} ms)` : ''}; ` +
          throughputLimit('at that rate', limit.cpu)
        );
      },
    );
    key.stack_rate = stackSearch.rate;
    key.naive_rate = naiveSearch.rate;
    key.probes = {
      stack: stackSearch.probes.map((p) => ({ rate: p.rate, ok: p.ok, ...p.figures, cpu: p.cpu })),
      naive: naiveSearch.probes.map((p) => ({ rate: p.rate, ok: p.ok, ...p.figures, cpu: p.cpu })),
    };
    key.by_type_at_best = {
      stack: stackSearch.best?.byType ?? null,
      naive: naiveSearch.best?.byType ?? null,
    };
    key.by_type_at_first_failure = {
      stack: stackSearch.failedAt?.byType ?? null,
      naive: naiveSearch.failedAt?.byType ?? null,
    };
    if (naiveSearch.rate === 0) {
      key.ratio_is_lower_bound = true;
      const slowest = Object.entries(naiveSearch.failedAt?.byType ?? {}).sort(
        (a, b) => b[1].stats.p99Ms - a[1].stats.p99Ms,
      )[0];
      key.naive_note =
        `the naive reference held the budget at no probed rate, not even ${lowestNaive} req/s; the ratio is the lower ` +
        `bound stack rate / ${lowestNaive}` +
        (slowest ? `; its slowest request type was ${slowest[0]} (p99 ${slowest[1].stats.p99Ms} ms)` : '');
    }
    const breaking = stackSearch.failedAt?.rate;
    if (breaking) {
      await explainWithProfile(key, stack, 'api-1', () => stackProbe(breaking));
    }
    results.mix_vs_naive = key;
  }

  // ---- order creation through the stack vs pgbench running the same SQL ------------------------------------
  if (wanted('orders_vs_pgbench')) {
    const users = await loadtestUserIds(stack.env.DATABASE_URL ?? '');
    const luaOrders = orderLua(tokens, orderProducts, loadtestKey);
    let bestStack: Measured<unknown> | undefined;
    for (const connections of SETTINGS.order_connections) {
      const measured = await measureWrk(
        env,
        {
          ...wrkBase,
          connections,
          seconds: SETTINGS.order_seconds,
          url: stack.nginxUrl,
          lua: luaOrders,
          name: `orders-stack-c${connections}`,
        },
        1,
      );
      if (!bestStack || measured.figures.req_per_s > bestStack.figures.req_per_s) bestStack = measured;
    }
    let bestPg: Measured<unknown> | undefined;
    for (const clients of SETTINGS.pgbench_clients) {
      const measured = await pgbenchOrders(env, stack, workDir, clients, users, SETTINGS.order_products);
      if (!bestPg || measured.figures.req_per_s > bestPg.figures.req_per_s) bestPg = measured;
    }
    const ordersKey = ratioKey(
      { op: '>=', value: 0.5 },
      bestStack,
      bestPg,
      bestStack && bestPg ? bestStack.figures.req_per_s / bestPg.figures.req_per_s : null,
      `order creations per second: POST /api/v1/orders (one item, quantity 1, a new Idempotency-Key each, ` +
        `${LOADTEST_CUSTOMERS} customers, ${SETTINGS.order_products} products) with wrk through nginx, best of ` +
        `${SETTINGS.order_connections.join('/')} connections / pgbench running the same transaction's SQL ` +
        `(bench/pgbench/order.sql), best of ${SETTINGS.pgbench_clients.join('/')} clients; ${SETTINGS.order_seconds} s each.`,
      () =>
        throughputLimit('stack', (bestStack as Measured<unknown>).cpu) +
        '. ' +
        throughputLimit('pgbench', (bestPg as Measured<unknown>).cpu),
    );
    await explainWithProfile(ordersKey, stack, 'api-1', () =>
      measureWrk(
        env,
        { ...wrkBase, connections: 64, seconds: 4, url: stack.nginxUrl, lua: luaOrders, name: 'orders-stack-profiled' },
        0,
      ),
    );
    results.orders_vs_pgbench = ordersKey;
  }

  // ---- bulk import through the api and worker vs psql \copy -----------------------------------------------
  if (wanted('import_vs_copy')) {
    const importKey = await importVsCopy(env, stack, workDir, edgeHeaders, SETTINGS.import_rows);
    await explainWithProfile(importKey, stack, 'worker-1', () =>
      importVsCopy(env, stack, workDir, edgeHeaders, Math.round(SETTINGS.import_rows / 4)),
    );
    results.import_vs_copy = importKey;
  }

  const serverVersion = await withClient(stack.env.DATABASE_URL ?? '', async (client) => {
    const { rows } = await client.query<{ version: string }>('SELECT version()');
    return rows[0]?.version.split(',')[0] ?? 'unknown';
  });
  const output: BenchResults = {
    generated_at: new Date().toISOString(),
    command: 'make bench',
    duration_seconds: Math.round((Date.now() - started) / 1000),
    machine: { ...host, cores: cpus().length },
    versions: await versions(serverVersion),
    settings: { ...SETTINGS, scale: SCALE, only: [...ONLY], large_products: LARGE },
    data: { ...data, products: LARGE, customers: 1_000, seeded_orders: 20_000, loadtest_customers: LOADTEST_CUSTOMERS },
    hot_read_vs_nginx_static: results.hot_read_vs_nginx_static ?? null,
    cached_read_vs_bare_node: results.cached_read_vs_bare_node ?? null,
    mix_vs_naive: results.mix_vs_naive ?? null,
    orders_vs_pgbench: results.orders_vs_pgbench ?? null,
    import_vs_copy: results.import_vs_copy ?? null,
    list_latency_1m_vs_10k: results.list_latency_1m_vs_10k ?? null,
  };
  const resultsDir = join(repoRoot, 'bench', 'results');
  const markdown = markdownTable(output);
  await writeFile(join(resultsDir, 'latest.json'), JSON.stringify(output, null, 2) + '\n');
  await writeFile(join(resultsDir, 'latest.md'), markdown);
  // Only a complete run at full length goes into the READMEs; quick and partial runs stay in bench/results.
  const complete = SCALE === 1 && ONLY.size === 0 && LARGE === 1_000_000;
  for (const readme of complete ? [join(repoRoot, 'README.md'), join(repoRoot, 'bench', 'README.md')] : []) {
    if (await updateReadmeMarkers(readme, markdown)) log(`table updated in ${readme}`);
  }
  console.log(`\n${markdown}`);
  log(`wrote bench/results/latest.json and bench/results/latest.md in ${output.duration_seconds} s`);

  await cleanup?.();
}

let cleanup: (() => Promise<void>) | undefined;

/**
 * When a target is missed, repeats the stack side briefly under a V8 profile of one of the stack's Node processes
 * and adds what that process spent its time on to the note.
 */
async function explainWithProfile(
  key: BenchKey,
  stack: BenchStack,
  processName: string,
  rerun: () => Promise<unknown>,
): Promise<void> {
  if (key.met !== false) return;
  const pid = stackPid(stack, processName);
  if (!pid) return;
  log(`  profiling ${processName} to explain the missed target`);
  const { profile } = await profileNodeProcess(processName, pid, rerun);
  if (!profile) return;
  key.node_profile = profile;
  const idle = profile.topFunctions.find((entry) => entry.name === '(idle)')?.share ?? 0;
  const waiting =
    idle >= 0.5
      ? ` ${processName} was idle in ${Math.round(idle * 100)}% of the samples: it waits (on Postgres, Redis or its ` +
        `clients) rather than computes.`
      : '';
  key.note = `${key.note.replace(/\.?$/, '.')} ${describeNodeProfile(profile)}.${waiting}`;
}

async function stopReference(references: Reference[], reference: Reference): Promise<void> {
  await reference.stop();
  references.splice(references.indexOf(reference), 1);
}

function emptyData(): WorkloadData {
  return { categories: [], cursors: [], productIds: [], orderProductIds: [], customers: [] };
}

const LATENCY_TYPES: Record<string, RequestSpec> = {
  uncached_list: {
    weight: 0,
    method: 'GET',
    path: '',
    auth: 'none',
    expect: { status: [200] },
    checks: { json: true, arrays: ['data'] },
  },
  uncached_search: {
    weight: 0,
    method: 'GET',
    path: '',
    auth: 'none',
    expect: { status: [200] },
    checks: { json: true, arrays: ['data'] },
  },
};

/**
 * Requests that no cache can answer: category pages at random keyset positions (cursors made with the api's own
 * encodeCursor) and first pages of two-word searches taken from product names, every URL distinct.
 */
async function uncachedListRequests(stack: BenchStack, headers: Record<string, string>, count: number) {
  const databaseUrl = stack.env.DATABASE_URL ?? '';
  const { encodeCursor } = (await import(join(repoRoot, 'core', 'dist', 'catalog', 'cursor.js'))) as {
    encodeCursor: (values: readonly (string | number)[]) => string;
  };
  // The api's exact SQL for a list filter: one query, or steps tried in order until one fills the page.
  const products = (await import(join(repoRoot, 'core', 'dist', 'catalog', 'products.js'))) as {
    productListQueries?: (filter: Record<string, unknown>) => { step?: string; text: string; values: unknown[] }[];
    productListQuery?: (filter: Record<string, unknown>) => { text: string; values: unknown[] };
  };
  const queriesFor = (filter: Record<string, unknown>) =>
    products.productListQueries?.(filter) ?? (products.productListQuery ? [products.productListQuery(filter)] : []);
  const explainList = async (filter: Record<string, unknown> & { limit: number }) => {
    let executionMs = 0;
    const nodes: string[] = [];
    for (const [index, query] of queriesFor(filter).entries()) {
      const plan = await explain(databaseUrl, query);
      executionMs += plan.executionMs;
      nodes.push(
        ...plan.nodes.map((node, i) =>
          i === 0 ? `${'step' in query && query.step ? query.step : `step ${index + 1}`}: ${node}` : node,
        ),
      );
      if (plan.rows > filter.limit) break;
    }
    return { executionMs: Math.round(executionMs * 100) / 100, nodes };
  };
  const facts = await withClient(databaseUrl, async (client) => {
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
  const accept = { Accept: 'application/json', ...headers };
  const list: PlannedRequest[] = [];
  const listFilters: { categoryId: number; afterId: number }[] = [];
  for (let i = 0; i < count; i += 1) {
    const category = facts.categories[pickIndex(zipf, random)] ?? facts.categories[0];
    if (!category) break;
    const afterId = 1 + Math.floor(random() * facts.maxId * 0.95);
    listFilters.push({ categoryId: category.id, afterId });
    const cursor = encodeCursor([afterId]);
    list.push({
      type: 'uncached_list',
      method: 'GET',
      path: `/api/v1/products?category=${category.slug}&limit=20&cursor=${cursor}`,
      headers: accept,
      body: null,
      values: {},
    });
  }
  const queries = [...new Set(facts.names.map((name) => name.toLowerCase().split(' ').slice(1).join(' ')))].slice(
    0,
    count,
  );
  const search: PlannedRequest[] = queries.map((q) => ({
    type: 'uncached_search',
    method: 'GET',
    path: `/api/v1/products?q=${encodeURIComponent(q)}&limit=20`,
    headers: accept,
    body: null,
    values: {},
  }));
  return {
    list,
    search,
    /** Postgres' own view of one list page and one search (the api's exact SQL). */
    explain: async () => ({
      list: await explainList({ ...listFilters[0], limit: 20 }),
      search: await explainList({ search: queries[0], limit: 20 }),
    }),
  };
}

/** The most frequent anonymous GET URL of the mix (sampled with the workload's own weights and skews). */
function hottestRead(context: RunContext): { path: string; share: number } {
  const sample = planMix(context, 50_000, 4242, 0);
  const counts = new Map<string, number>();
  for (const request of sample) {
    if (request.method !== 'GET' || request.headers.Authorization) continue;
    counts.set(request.path, (counts.get(request.path) ?? 0) + 1);
  }
  const [path, count] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? ['/api/v1/categories', 0];
  return { path, share: count / sample.length };
}

function orderLua(tokens: string[], productIds: number[], loadtestKey: string): string {
  const runId = randomBytes(4).toString('hex');
  return `
local tokens = { ${tokens.map(luaString).join(', ')} }
local products = { ${productIds.join(', ')} }
local counter = 0
local thread_id = 0
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
init = function(args)
  thread_id = tid or 0
  math.randomseed(17 + thread_id)
end
request = function()
  counter = counter + 1
  local body = '{"items":[{"productId":' .. products[math.random(#products)] .. ',"quantity":1}]}'
  return wrk.format("POST", "/api/v1/orders", {
    ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-${runId}-" .. thread_id .. "-" .. counter,
    ["X-Loadtest-Key"] = ${luaString(loadtestKey)},
  }, body)
end
`;
}

/** pgbench with bench/pgbench/order.sql at `clients` connections; latencies from its per-transaction log. */
async function pgbenchOrders(
  env: Environment,
  stack: BenchStack,
  workDir: string,
  clients: number,
  users: { first: number; last: number },
  orderProducts: number,
): Promise<Measured<unknown>> {
  const logDir = join(workDir, `pgbench-c${clients}`);
  await rm(logDir, { recursive: true, force: true });
  await mkdir(logDir, { recursive: true });
  const args = (seconds: number, log: boolean) => [
    '-n',
    '-M',
    'extended',
    '-f',
    join(repoRoot, 'bench', 'pgbench', 'order.sql'),
    '-D',
    `first_user=${users.first}`,
    '-D',
    `last_user=${users.last}`,
    '-D',
    `order_products=${orderProducts}`,
    '-c',
    String(clients),
    '-j',
    '2',
    '-T',
    String(seconds),
    ...(log ? ['-l', '--log-prefix', join(logDir, 'tx')] : []),
    stack.env.DATABASE_URL ?? '',
  ];
  const seconds = SETTINGS.order_seconds;
  // Warm-up run, not recorded.
  await run('pgbench', args(2, false), { maxBuffer: 16 * 1024 * 1024 });
  const profile = startCpuProfile(env.roles, env.cores);
  const { stdout } = await run('pgbench', args(seconds, true), {
    maxBuffer: 16 * 1024 * 1024,
    timeout: (seconds + 60) * 1000,
  });
  const cpu = profile.stop();
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1] ?? 0);
  const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
  const latencies: number[] = [];
  for (const file of await readdir(logDir)) {
    for (const line of (await readFile(join(logDir, file), 'utf8')).split('\n')) {
      const fields = line.split(' ');
      if (fields.length >= 3 && fields[2] !== undefined) latencies.push(Number(fields[2]) / 1000);
    }
  }
  latencies.sort((a, b) => a - b);
  await rm(logDir, { recursive: true, force: true });
  const transactions = latencies.length;
  const figures: Figures = {
    req_per_s: Math.round(tps),
    p50_ms: r2(percentile(latencies, 50)),
    p95_ms: r2(percentile(latencies, 95)),
    p99_ms: r2(percentile(latencies, 99)),
    max_ms: r2(latencies[latencies.length - 1] ?? 0),
    errors: transactions + failed === 0 ? 1 : Number((failed / (transactions + failed)).toPrecision(3)),
    requests: transactions,
  };
  env.log(`  pgbench-c${clients}: ${figures.req_per_s} orders/s, p50 ${figures.p50_ms} ms, p99 ${figures.p99_ms} ms`);
  return { figures, detail: { clients }, cpu };
}

/**
 * Catalog import of `rows` new products: POST the CSV to /api/v1/admin/imports (api stores it, worker parses,
 * validates and upserts it in batches), rows/s from the POST to the completed status / psql \copy of the same rows
 * (new SKUs) into the same table.
 */
async function importVsCopy(
  env: Environment,
  stack: BenchStack,
  workDir: string,
  headers: Record<string, string>,
  rows: number,
): Promise<BenchKey> {
  const { productRows } = (await import(join(repoRoot, 'core', 'dist', 'seed', 'catalog-data.js'))) as {
    productRows: (
      count: number,
      seed: number,
    ) => Iterable<{
      categoryId: number;
      name: string;
      description: string;
      priceCents: number;
      stock: number;
      active: boolean;
    }>;
  };
  const slugs = await withClient(stack.env.DATABASE_URL ?? '', async (client) => {
    const { rows: found } = await client.query<{ id: number; slug: string }>('SELECT id, slug FROM categories');
    return new Map(found.map((row) => [row.id, row.slug]));
  });
  const runId = Date.now().toString(36);
  const csvField = (value: string) => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
  const importLines = ['sku,category,name,description,price_cents,stock,active'];
  const copyLines = ['sku,category_id,name,description,price_cents,stock,active'];
  let n = 0;
  for (const product of productRows(rows, 777)) {
    n += 1;
    const common = [
      csvField(product.name),
      csvField(product.description),
      product.priceCents,
      product.stock,
      product.active,
    ];
    importLines.push([`BENCH-IMP-${runId}-${n}`, slugs.get(product.categoryId) ?? '', ...common].join(','));
    copyLines.push([`BENCH-CPY-${runId}-${n}`, product.categoryId, ...common].join(','));
  }
  const importFile = Buffer.from(importLines.join('\n') + '\n');
  const copyPath = join(workDir, 'copy.csv');
  await writeFile(copyPath, copyLines.join('\n') + '\n');

  const admin = stack.env.DEV_ADMIN_TOKEN ?? '';
  const profile = startCpuProfile(env.roles, env.cores);
  const started = performance.now();
  const posted = await fetch(`${stack.nginxUrl}/api/v1/admin/imports`, {
    method: 'POST',
    headers: { ...headers, Authorization: `Bearer ${admin}`, 'Content-Type': 'text/csv' },
    body: importFile,
  });
  const accepted = (await posted.json()) as { id?: string; links?: { self?: string } };
  if (posted.status !== 202 || !accepted.id)
    throw new Error(`import upload answered ${posted.status}: ${JSON.stringify(accepted)}`);
  let status: {
    status: string;
    rowsApplied: number;
    rowsFailed: number;
    startedAt?: string;
    completedAt?: string;
    error?: string;
  };
  for (;;) {
    const response = await fetch(`${stack.nginxUrl}/api/v1/admin/imports/${accepted.id}`, {
      headers: { ...headers, Authorization: `Bearer ${admin}` },
    });
    status = (await response.json()) as typeof status;
    if (status.status === 'completed' || status.status === 'failed') break;
    if (performance.now() - started > 600_000) throw new Error('import did not complete within 10 minutes');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const importSeconds = (performance.now() - started) / 1000;
  const importCpu = profile.stop();
  if (status.status !== 'completed') throw new Error(`import failed: ${status.error ?? 'unknown'}`);
  env.log(`  import: ${status.rowsApplied} rows in ${importSeconds.toFixed(1)} s (${status.rowsFailed} failed)`);

  const copyProfile = startCpuProfile(env.roles, env.cores);
  const copyStarted = performance.now();
  await run('psql', [
    stack.env.DATABASE_URL ?? '',
    '-X',
    '-v',
    'ON_ERROR_STOP=1',
    '-c',
    `\\copy products (sku, category_id, name, description, price_cents, stock, active) FROM '${copyPath}' WITH (FORMAT csv, HEADER true)`,
  ]);
  const copySeconds = (performance.now() - copyStarted) / 1000;
  const copyCpu = copyProfile.stop();
  env.log(`  \\copy: ${rows} rows in ${copySeconds.toFixed(1)} s`);
  const importRate = status.rowsApplied / importSeconds;
  const copyRate = rows / copySeconds;
  const figures = (rate: number, secs: number, count: number, errors: number): Figures => ({
    req_per_s: Math.round(rate),
    p50_ms: 0,
    p95_ms: 0,
    p99_ms: 0,
    max_ms: r2(secs * 1000),
    errors,
    requests: count,
  });
  const key: BenchKey = {
    ratio: r2(importRate / copyRate),
    target: '>= 0.5',
    met: importRate / copyRate >= 0.5,
    stack: {
      ...figures(importRate, importSeconds, status.rowsApplied, status.rowsFailed / rows),
      rows_per_s: Math.round(importRate),
      seconds: r2(importSeconds),
      cpu: importCpu,
    },
    reference: {
      ...figures(copyRate, copySeconds, rows, 0),
      rows_per_s: Math.round(copyRate),
      seconds: r2(copySeconds),
      cpu: copyCpu,
    },
    method:
      `${rows} new products as CSV (${(importFile.length / 1e6).toFixed(1)} MB): POST /api/v1/admin/imports through nginx, ` +
      `stored by the api, parsed, validated and upserted by the worker; rows/s from the upload to the completed status ` +
      `/ psql \\copy of the same rows (other SKUs, category ids instead of slugs) into the same products table. ` +
      `req_per_s here = rows per second; max_ms = the whole run. Latency percentiles do not apply.`,
    note: '',
  };
  if (!key.met) {
    key.note =
      `import ${Math.round(importRate)} rows/s vs \\copy ${Math.round(copyRate)} rows/s. ` +
      throughputLimit('import', importCpu) +
      '. ' +
      throughputLimit('\\copy', copyCpu);
  }
  return key;
}

if (import.meta.main) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the references and the bench stack`);
      void (cleanup?.() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
  main().catch(async (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
    await cleanup?.();
  });
}
