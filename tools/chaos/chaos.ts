/**
 * The chaos run (issue 11): the mixed workload at about half the measured capacity while faults are injected one
 * after another, then invariants on what was stored and what the clients were told. `make chaos` runs it for ten
 * minutes on a native stack of its own (tools/chaos/run.ts); `make test` runs a short one on the test stack
 * (test/chaos/chaos.test.ts). docs/chaos.md explains the figures.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { seedFrom } from '../../load-tests/lib/workload-core.js';
import type { Workload, WorkloadData } from '../../load-tests/lib/workload-core.js';
import { createRequestDraws } from '../../load-tests/native/context.ts';
import { discover } from '../../load-tests/native/discover.ts';
import { loadWorkload } from '../../load-tests/native/workload-file.ts';
import type { Stack } from '../stack/stack.ts';
import { planFor, runFaults, type FaultWindow } from './faults.ts';
import * as checks from './invariants.ts';
import { startReceiver, type Receiver } from './receiver.ts';
import * as setup from './setup.ts';
import { Traffic } from './traffic.ts';
import { measureWindows, windowTable, type WindowRow } from './windows.ts';

export interface ChaosOptions {
  /** Seconds of load with faults (>= 90: every fault at least once). */
  seconds: number;
  /** Arrivals per second; default: half the capacity measured at the start, at most `maxRate`. */
  rate?: number;
  maxRate: number;
  customers: number;
  products: number;
  /** Put the stack's own settings back on the api replicas and the worker afterwards (a shared test stack). */
  restoreSettings: boolean;
  log: (line: string) => void;
}

export interface ChaosResult {
  passed: boolean;
  capacity: number;
  rate: number;
  rows: WindowRow[];
  faults: FaultWindow[];
  invariants: checks.Invariant[];
  /** Everything printed: settings, faults, the table, the invariants. */
  text: string;
}

/** Seconds the closed-loop capacity measurement runs, and with how many clients. */
const CAPACITY = { seconds: 6, clients: 32 };
/** Shares of placed orders cancelled and paid right away, the client's timeout, and its bound on requests in flight. */
const CLIENTS = { cancelShare: 0.15, payShare: 0.1, timeoutMs: 10_000, maxInFlight: 512 };
/** The least load after the last fault's window (its "after recovery" row). */
const RECOVERY_MS = 8_000;
/** How long the queues get to drain after the load stopped. */
const DRAIN_TIMEOUT_MS = 120_000;

async function discoverOwn(
  workload: Workload,
  baseUrl: string,
  headers: Record<string, string>,
  data: setup.ChaosData,
) {
  return discover(workload, { baseUrl, headers, tokens: data.customerTokens, categorySlugs: [data.slug] });
}

/** The load tests' seeded draws over the discovered data; `runId` makes the Idempotency-Keys unique. */
function drawsFor(workload: Workload, found: WorkloadData, runId: string, baseUrl: string) {
  const seed = seedFrom(process.env.LOADTEST_SEED);
  return { draws: createRequestDraws({ workload, data: found, baseUrl, headers: {}, runId, workDir: '', seed }), seed };
}

/** Waits until the receiver has seen every stored order (or the time is up), then a moment for late duplicates. */
async function drain(client: pg.Client, data: setup.ChaosData, receiver: Receiver, log: (line: string) => void) {
  const started = Date.now();
  for (;;) {
    const stored = await checks.storedOrders(client, data);
    const seen = new Set(receiver.received.map((hook) => hook.orderId));
    const waiting = stored.filter((order) => !seen.has(order.id)).length;
    if (waiting === 0 || Date.now() - started > DRAIN_TIMEOUT_MS) {
      log(`drained in ${((Date.now() - started) / 1000).toFixed(1)} s (${waiting} orders not delivered)`);
      break;
    }
    await sleep(500);
  }
  await sleep(3_000);
}

export async function runChaos(stack: Stack, options: ChaosOptions): Promise<ChaosResult> {
  const lines: string[] = [];
  const log = (line: string) => {
    lines.push(line);
    options.log(line);
  };
  const addresses = stack.addresses();
  const baseUrl = addresses.nginxUrl;
  const headers: Record<string, string> = addresses.loadtestKey ? { 'X-Loadtest-Key': addresses.loadtestKey } : {};
  const workload = await loadWorkload();
  const receiver = await startReceiver(100);
  const data = await setup.createChaosData(addresses.databaseUrl, addresses.tokenPepper, {
    products: options.products,
    customers: options.customers,
    stock: 100_000,
  });
  // Connected only once the faults are over (a Postgres restart would end it).
  const client = new pg.Client({ connectionString: addresses.databaseUrl, application_name: 'chaos-checks' });
  client.on('error', () => undefined);
  let connected = false;
  let endpoint: { id: number; secret: string } | undefined;
  try {
    await setup.restartWith(stack, setup.CHAOS_PROCESS_ENV);
    const apiUrl = stack.addresses().apiUrls[0] as string;
    endpoint = await setup.registerEndpoint(apiUrl, data.adminToken, receiver.url);
    receiver.setSecret(endpoint.secret);

    // Capacity: a closed loop of the same mix (it also gives every customer orders, so order reads have some).
    const common = { baseUrl, headers, adminToken: data.adminToken, workload, ...CLIENTS };
    const firstData = await discoverOwn(workload, baseUrl, headers, data);
    const measuring = new Traffic({ ...common, ...drawsFor(workload, firstData, `${data.tag}a`, baseUrl) });
    const capacity = await measuring.closedLoop(CAPACITY.clients, CAPACITY.seconds);
    const rate = options.rate ?? Math.max(20, Math.min(options.maxRate, Math.round(capacity / 2)));
    // Discovered again: now the customers have orders for the order reads of the mix.
    const secondData = await discoverOwn(workload, baseUrl, headers, data);
    const traffic = new Traffic({ ...common, ...drawsFor(workload, secondData, `${data.tag}b`, baseUrl) });
    log(`capacity (closed loop, ${CAPACITY.clients} clients, ${CAPACITY.seconds} s): ${capacity.toFixed(0)} req/s`);
    log(`load: ${rate} req/s for ${options.seconds} s${options.rate ? ' (CHAOS_RATE)' : ' (half the capacity)'}`);

    const plan = planFor(options.seconds, setup.CHAOS_PROCESS_ENV);
    const loadStartMs = Date.now();
    let running = true;
    const load = traffic.openLoop(rate, () => running);
    let faults: FaultWindow[] = [];
    try {
      faults = await runFaults(stack, plan, receiver, loadStartMs, log);
      // The last fault gets a recovery window of its own even when it took longer than planned.
      const lastEnd = (faults.at(-1)?.endMs ?? 0) + RECOVERY_MS;
      await sleep(Math.max(0, Math.max(loadStartMs + options.seconds * 1000, lastEnd) - Date.now()));
    } finally {
      running = false;
      await load;
    }
    const loadEndMs = Date.now();
    const processes = checks.checkProcesses(processNames(stack), processProbe(stack));
    await client.connect();
    connected = true;
    await drain(client, data, receiver, log);

    const rows = measureWindows(traffic.samples, faults, loadStartMs, loadEndMs, errorRateObjective(workload));
    const stored = await checks.storedOrders(client, data);
    const told = new Map([...measuring.orders, ...traffic.orders]);
    const invariants = [
      checks.checkOrders(stored, told),
      await checks.checkStock(client, data),
      checks.checkWebhooks(stored, receiver.received, faults),
      checks.checkResponses(rows, traffic.skipped + measuring.skipped),
      checks.checkWorkerKills(faults),
      processes,
    ];
    const objective = (errorRateObjective(workload) * 100).toFixed(1);
    log(`\nerror budget: ${objective} % of the requests under load (workload.json thresholds.load)\n`);
    log(windowTable(rows));
    log('');
    for (const invariant of invariants) {
      log(`${invariant.ok ? 'ok  ' : 'FAIL'} ${invariant.name}\n     ${invariant.summary}`);
      for (const detail of invariant.details) log(`       ${detail}`);
    }
    const passed = invariants.every((invariant) => invariant.ok);
    return { passed, capacity, rate, rows, faults, invariants, text: lines.join('\n') };
  } finally {
    await finish(stack, options, data, endpoint, receiver);
    if (connected) await client.end().catch(() => undefined);
  }
}

const processNames = (stack: Stack) => [
  'postgres',
  'redis-cache',
  'redis-queue',
  ...stack.addresses().apiNames,
  setup.WORKER,
];

/** Whether a process runs, where the stack can tell (native: its PID file and a live process). */
function processProbe(stack: Stack): ((name: string) => boolean) | undefined {
  const native = stack as Partial<{ pidOf(name: string): number | undefined }>;
  const pidOf = native.pidOf?.bind(stack);
  return pidOf ? (name) => pidOf(name) !== undefined : undefined;
}

/** The load test's error-rate objective: the error budget is this share of the requests. */
function errorRateObjective(workload: Workload): number {
  return workload.thresholds.load?.default.errorRate ?? 0.001;
}

/** Every service up again, the endpoint deleted, the settings put back when asked, the receiver closed. */
async function finish(
  stack: Stack,
  options: ChaosOptions,
  data: setup.ChaosData,
  endpoint: { id: number } | undefined,
  receiver: Receiver,
): Promise<void> {
  for (const name of processNames(stack)) await stack.start(name, setup.CHAOS_PROCESS_ENV).catch(() => undefined);
  if (endpoint) {
    await setup
      .deleteEndpoint(stack.addresses().apiUrls[0] as string, data.adminToken, endpoint.id)
      .catch((error: unknown) => options.log(`could not delete webhook endpoint ${endpoint.id}: ${String(error)}`));
  }
  if (options.restoreSettings) await setup.restartWith(stack, {});
  await receiver.close();
}
