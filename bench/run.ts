/**
 * `make bench`: in one run on the native stack, measures the stack against references started beside it and writes
 * bench/results/latest.json and bench/results/latest.md (ratios, so the machine's speed cancels out, with the
 * absolute figures and a CPU profile beside each). Each key is a file of bench/keys (bench/README.md says what each
 * measures and how to add one); this runner prepares what they share, measures them in turn and stops what it
 * started, once, whether the run ends, fails or is interrupted.
 *
 *   node bench/run.ts            (scripts/bench/bench.sh sets up the load generators and Node 24 first)
 *
 * Environment (lib/settings.ts): BENCH_NATIVE_DIR [.native-bench], BENCH_SCALE [1] (multiplies every measurement's
 * duration; 0.3 for a quick check of the tooling), BENCH_KEEP=1 (leave the bench stack running), BENCH_ONLY=key1,key2
 * (measure a subset), BENCH_LARGE_PRODUCTS [1000000] (a smaller large data set for checking the tooling only: the
 * key keeps its name).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../load-tests/native/paths.ts';
import { vegetaBinary } from '../load-tests/native/vegeta.ts';
import { BENCHMARK_KEYS } from './keys/index.ts';
import { CleanupStack } from './lib/cleanup.ts';
import { createBenchContext, log, type BenchContext } from './lib/context.ts';
import { LOADTEST_CUSTOMERS, withClient } from './lib/data.ts';
import { machine, versions, type Machine } from './lib/machine.ts';
import { markdownTable, resultsJson, updateReadmeMarkers, type BenchKey, type BenchRun } from './lib/results.ts';
import { isCompleteRun, readOptions, type BenchOptions } from './lib/settings.ts';
import { stackDown, stackUp } from './lib/stack.ts';

async function main(cleanup: CleanupStack): Promise<void> {
  const started = Date.now();
  const options = readOptions();
  const workDir = join(repoRoot, 'bench', 'results', 'work');
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  cleanup.defer('delete the work folder', () => rm(workDir, { recursive: true, force: true }));
  vegetaBinary();

  const host = machine();
  log(`machine: ${host.cores} cores (${host.cpu}), load average ${host.load_average_at_start.join(' ')}`);
  if (host.load_average_at_start[0] !== undefined && host.load_average_at_start[0] > host.cores * 0.5) {
    log('WARNING: the machine is busy; ratios hold up better than absolute figures, but a quiet machine is better');
  }

  const { api_processes, workers } = options.measurement;
  log(`native stack up in ${options.nativeDir} (${api_processes} api, ${workers} worker)`);
  // Registered before up, so a stack that fails half-way up is stopped too.
  cleanup.defer('stop the bench stack', () => stopStack(options));
  const stack = await stackUp(options.nativeDir, api_processes, workers);
  const context = await createBenchContext(options, stack, workDir, host.cores, cleanup);
  const results = await measureKeys(context, options);
  await writeResults(context, options, host, results, started);
}

/** The wanted keys (BENCH_ONLY), those on the small catalog first, each on the catalog it needs. */
async function measureKeys(context: BenchContext, options: BenchOptions): Promise<Map<string, BenchKey>> {
  const unknown = [...options.only].filter((name) => !BENCHMARK_KEYS.some((key) => key.name === name));
  if (unknown.length > 0) log(`BENCH_ONLY names no key ${unknown.join(', ')}: ignored`);
  const wanted = BENCHMARK_KEYS.filter((key) => options.only.size === 0 || options.only.has(key.name));
  const results = new Map<string, BenchKey>();
  for (const catalogs of ['small-then-large', 'large'] as const) {
    for (const key of wanted.filter((candidate) => candidate.catalogs === catalogs)) {
      if (catalogs === 'large') await context.catalog.useLarge();
      results.set(key.name, await key.measure(context));
    }
  }
  return results;
}

/** latest.json and latest.md; the READMEs' tables only after a complete run at full length. */
async function writeResults(
  context: BenchContext,
  options: BenchOptions,
  host: Machine,
  results: ReadonlyMap<string, BenchKey>,
  started: number,
): Promise<void> {
  const serverVersion = await withClient(context.databaseUrl, async (client) => {
    const { rows } = await client.query<{ version: string }>('SELECT version()');
    return rows[0]?.version.split(',')[0] ?? 'unknown';
  });
  const run: BenchRun = {
    generated_at: new Date().toISOString(),
    command: 'make bench',
    duration_seconds: Math.round((Date.now() - started) / 1000),
    machine: { ...host, cores: cpus().length },
    versions: await versions(serverVersion),
    settings: {
      ...options.measurement,
      scale: options.scale,
      only: [...options.only],
      large_products: options.largeProducts,
    },
    data: {
      ...context.data,
      products: options.largeProducts,
      customers: 1_000,
      seeded_orders: 20_000,
      loadtest_customers: LOADTEST_CUSTOMERS,
    },
  };
  const keys = BENCHMARK_KEYS.map((row) => ({
    row,
    result: results.get(row.name) ?? null,
  }));
  const resultsDir = join(repoRoot, 'bench', 'results');
  const markdown = markdownTable(run, keys);
  await writeFile(join(resultsDir, 'latest.json'), JSON.stringify(resultsJson(run, keys), null, 2) + '\n');
  await writeFile(join(resultsDir, 'latest.md'), markdown);
  for (const readme of isCompleteRun(options)
    ? [join(repoRoot, 'README.md'), join(repoRoot, 'bench', 'README.md')]
    : []) {
    if (await updateReadmeMarkers(readme, markdown)) log(`table updated in ${readme}`);
  }
  console.log(`\n${markdown}`);
  log(`wrote bench/results/latest.json and bench/results/latest.md in ${run.duration_seconds} s`);
}

async function stopStack(options: BenchOptions): Promise<void> {
  if (options.keep) {
    log(`bench stack left running in ${options.nativeDir} (make native-down NATIVE_DIR=${options.nativeDir} stops it)`);
    return;
  }
  await stackDown(options.nativeDir);
}

if (import.meta.main) {
  const cleanup = new CleanupStack(log);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the references and the bench stack`);
      void cleanup.close().finally(() => process.exit(130));
    });
  }
  try {
    await main(cleanup);
  } catch (error) {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  } finally {
    await cleanup.close();
  }
}
