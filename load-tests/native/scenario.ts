/**
 * Runs the workload natively: open-model stages with vegeta (per request type latencies, statuses and content
 * checks) and closed-model phases with wrk (throughput and latency for N concurrent users), then judges the run
 * against workload.json's thresholds, as k6 does in the container.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createPlanner, createRandom, failedChecks, limitsFor } from '../lib/workload-core.js';
import type { Limits, PlannedRequest, RequestSpec, Workload, WorkloadData } from '../lib/workload-core.js';
import { rounded, summarize, type LatencyStats } from './stats.ts';
import { attack, readResults, writeTargets, type HttpRequestSpec } from './vegeta.ts';
import { luaString, runWrk, type WrkResult } from './wrk.ts';

export interface RunContext {
  workload: Workload;
  data: WorkloadData;
  baseUrl: string;
  /** Sent with every request (the load-test key that lifts nginx's rate limit for this run only). */
  headers: Record<string, string>;
  /** Unique per run: part of every idempotency key. */
  runId: string;
  workDir: string;
  seed?: number;
  /**
   * Requests per second sent with full response bodies, for the content checks; the rest of an open stage keeps
   * no bodies (cheaper for the machine that is also serving them). Every request is checked when the stage's
   * rate is at most this.
   */
  checkRate?: number;
  timeoutSeconds?: number;
  /** Request types outside workload.json that planned requests may carry (the benchmark's own probes). */
  extraTypes?: Record<string, RequestSpec>;
  /** Keep vegeta's targets and binary results in workDir (default: deleted once read). */
  keepRaw?: boolean;
  log?: (line: string) => void;
}

/** Everything measured for one request type (or for a whole stage). */
export interface TypeCollector {
  latencies: number[];
  errors: number;
  statuses: Map<string, number>;
  checked: number;
  checksFailed: number;
  checkFailures: Map<string, number>;
  cache: Map<string, number>;
}

export interface StageMeasurement {
  name: string;
  rate: number;
  seconds: number;
  overall: LatencyStats;
  byType: Record<string, TypeSummary>;
  /** Responses answered by nginx's micro-cache (HIT/STALE/UPDATING) out of those with an X-Cache-Status. */
  edgeCacheHits: number;
}

export interface TypeSummary {
  stats: LatencyStats;
  statuses: Record<string, number>;
  checks: { checked: number; failed: number; failures: Record<string, number> };
}

function newCollector(): TypeCollector {
  return {
    latencies: [],
    errors: 0,
    statuses: new Map(),
    checked: 0,
    checksFailed: 0,
    checkFailures: new Map(),
    cache: new Map(),
  };
}

const bump = (map: Map<string, number>, key: string, by = 1) => map.set(key, (map.get(key) ?? 0) + by);

export function summarizeCollector(collector: TypeCollector, seconds: number): TypeSummary {
  return {
    stats: rounded(summarize(collector.latencies, collector.errors, seconds)),
    statuses: Object.fromEntries([...collector.statuses].sort()),
    checks: {
      checked: collector.checked,
      failed: collector.checksFailed,
      failures: Object.fromEntries(collector.checkFailures),
    },
  };
}

/** Collectors for a whole run: thresholds are judged over every sample of every phase, as k6 does. */
export function createRunCollectors(): Map<string, TypeCollector> {
  return new Map();
}

/** The concrete requests of one stage, drawn by weight from the workload. */
export function planRequests(
  context: RunContext,
  count: number,
  sequenceStart: number,
  seed: number,
): PlannedRequest[] {
  const planner = createPlanner(context.workload, context.data);
  const random = createRandom(seed);
  const requests: PlannedRequest[] = [];
  for (let i = 0; i < count; i += 1) {
    const type = planner.pickType(random);
    requests.push(
      planner.plan(type, random, { runId: context.runId, sequence: sequenceStart + i, extraHeaders: context.headers }),
    );
  }
  return requests;
}

let sequence = 0;

/**
 * One open-model stage: `rate` arrivals per second for `seconds`. Samples go into `run` (for the thresholds) and
 * the stage's own figures are returned.
 */
export async function runOpenStage(
  context: RunContext,
  stage: { name: string; rate: number; seconds: number },
  run?: Map<string, TypeCollector>,
): Promise<StageMeasurement> {
  const count = Math.ceil(stage.rate * stage.seconds) + 1;
  const seed = (context.seed ?? 1) + sequence;
  const planned = planRequests(context, count, sequence, seed);
  sequence += count;
  return runPlanned(context, planned, stage, run);
}

/**
 * Sends `planned` (in order, cycling if the stage needs more) at `rate` per second for `seconds`, and measures them
 * by request type. The requests need not come from the workload's planner (the benchmark sends its own lists).
 */
export async function runPlanned(
  context: RunContext,
  planned: readonly PlannedRequest[],
  stage: { name: string; rate: number; seconds: number },
  run?: Map<string, TypeCollector>,
): Promise<StageMeasurement> {
  await mkdir(context.workDir, { recursive: true });
  const count = planned.length;
  const byKey = new Map<string, PlannedRequest>();
  const toSpec = (request: PlannedRequest): HttpRequestSpec => {
    const url = context.baseUrl.replace(/\/$/, '') + request.path;
    byKey.set(`${request.method} ${url}`, request);
    return { method: request.method, url, headers: request.headers, body: request.body };
  };

  // Content checks on a steady trickle with full bodies; the rest without bodies (see checkRate).
  const checkRate = context.checkRate ?? 10;
  const every = stage.rate <= checkRate ? 1 : Math.max(2, Math.round(stage.rate / checkRate));
  const checked = planned.filter((_, i) => i % every === 0);
  const unchecked = every === 1 ? [] : planned.filter((_, i) => i % every !== 0);
  const base = join(context.workDir, `${stage.name}-${stage.rate}`);
  const attacks: Promise<void>[] = [];
  const files: { results: string; bodies: boolean }[] = [];
  const checkedRate = every === 1 ? stage.rate : stage.rate / every;
  await writeTargets(`${base}.checked.targets`, checked.map(toSpec));
  files.push({ results: `${base}.checked.bin`, bodies: true });
  attacks.push(
    attack({
      targetsFile: `${base}.checked.targets`,
      resultsFile: `${base}.checked.bin`,
      rate: checkedRate,
      seconds: stage.seconds,
      maxBody: -1,
      name: `${stage.name}-checked`,
      ...(context.timeoutSeconds ? { timeoutSeconds: context.timeoutSeconds } : {}),
    }),
  );
  if (unchecked.length > 0) {
    await writeTargets(`${base}.targets`, unchecked.map(toSpec));
    files.push({ results: `${base}.bin`, bodies: false });
    attacks.push(
      attack({
        targetsFile: `${base}.targets`,
        resultsFile: `${base}.bin`,
        rate: stage.rate - checkedRate,
        seconds: stage.seconds,
        maxBody: 0,
        name: stage.name,
        ...(context.timeoutSeconds ? { timeoutSeconds: context.timeoutSeconds } : {}),
      }),
    );
  }
  context.log?.(`  ${stage.name}: ${stage.rate} req/s for ${stage.seconds}s (${count} requests)`);
  await Promise.all(attacks);

  const stageTypes = new Map<string, TypeCollector>();
  const overall = newCollector();
  let cacheHits = 0;
  let cacheSeen = 0;
  for (const file of files) {
    for await (const result of readResults(file.results)) {
      const request = byKey.get(`${result.method} ${result.url}`);
      const type = request?.type ?? 'unknown';
      const spec = context.workload.requests[type] ?? context.extraTypes?.[type];
      const collectors = [overall, getOrCreate(stageTypes, type)];
      if (run) collectors.push(getOrCreate(run, type));
      const status = result.code === 0 ? `error: ${shortError(result.error)}` : String(result.code);
      const isError = result.code === 0 || !spec || !spec.expect.status.includes(result.code);
      let failures: string[] = [];
      const checkable = file.bodies && !isError && spec && request && result.body !== null;
      if (checkable) failures = failedChecks(spec, result.code, result.body, request.values);
      for (const collector of collectors) {
        collector.latencies.push(result.latencyMs);
        if (isError) collector.errors += 1;
        bump(collector.statuses, status);
        if (checkable) {
          collector.checked += 1;
          if (failures.length > 0) collector.checksFailed += 1;
          for (const failure of failures) bump(collector.checkFailures, failure);
        }
        if (result.cacheStatus) bump(collector.cache, result.cacheStatus);
      }
      if (result.cacheStatus) {
        cacheSeen += 1;
        if (/^(HIT|STALE|UPDATING|REVALIDATED)$/.test(result.cacheStatus)) cacheHits += 1;
      }
    }
  }
  if (!context.keepRaw) {
    await Promise.all(
      [`${base}.checked.targets`, `${base}.targets`, ...files.map((file) => file.results)].map((file) =>
        rm(file, { force: true }),
      ),
    );
  }
  const byType: Record<string, TypeSummary> = {};
  for (const [type, collector] of [...stageTypes].sort()) byType[type] = summarizeCollector(collector, stage.seconds);
  return {
    name: stage.name,
    rate: stage.rate,
    seconds: stage.seconds,
    overall: rounded(summarize(overall.latencies, overall.errors, stage.seconds)),
    byType,
    edgeCacheHits: cacheSeen === 0 ? 0 : Math.round((cacheHits / cacheSeen) * 1000) / 1000,
  };
}

function getOrCreate(map: Map<string, TypeCollector>, key: string): TypeCollector {
  let collector = map.get(key);
  if (!collector) {
    collector = newCollector();
    map.set(key, collector);
  }
  return collector;
}

function shortError(error: string): string {
  if (/timeout|deadline/i.test(error)) return 'timeout';
  if (/connection refused/i.test(error)) return 'connection refused';
  if (/reset/i.test(error)) return 'connection reset';
  return error.slice(0, 60);
}

/**
 * One closed-model phase with wrk: `vus` connections, each sending a request drawn from the same mix, then waiting
 * a think time (uniform between half and one and a half times thinkTimeMs). Idempotency keys are made per request
 * in Lua, so replays never stand in for new orders.
 */
export async function runClosedPhase(
  context: RunContext,
  phase: { name: string; vus: number; seconds: number; thinkTimeMs: number },
): Promise<WrkResult> {
  await mkdir(context.workDir, { recursive: true });
  const planned = planRequests(context, 5_000, sequence, (context.seed ?? 1) + sequence);
  sequence += 5_000;
  const entries = planned.map((request) => {
    const headers = Object.entries(request.headers)
      .filter(([name]) => name !== 'Idempotency-Key')
      .map(([name, value]) => `[${luaString(name)}]=${luaString(value)}`)
      .join(',');
    const dynamic = request.headers['Idempotency-Key'] !== undefined;
    const body = request.body === null ? 'nil' : luaString(request.body);
    return `{${luaString(request.method)},${luaString(request.path)},{${headers}},${body},${dynamic}}`;
  });
  const half = Math.round(phase.thinkTimeMs / 2);
  const lua = `
local entries = {
${entries.join(',\n')}
}
local counter = 0
local prebuilt = {}
local thread_id = 0
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
init = function(args)
  thread_id = tid or 0
  math.randomseed(${context.seed ?? 1} + thread_id)
  for i, e in ipairs(entries) do
    if not e[5] then prebuilt[i] = wrk.format(e[1], e[2], e[3], e[4]) end
  end
end
request = function()
  counter = counter + 1
  local i = math.random(#entries)
  local e = entries[i]
  if not e[5] then return prebuilt[i] end
  local headers = {}
  for k, v in pairs(e[3]) do headers[k] = v end
  headers["Idempotency-Key"] = "lt-${context.runId}-w" .. thread_id .. "-" .. counter
  return wrk.format(e[1], e[2], headers, e[4])
end
delay = function()
  return ${half} + math.random(0, ${phase.thinkTimeMs})
end
`;
  context.log?.(`  ${phase.name}: ${phase.vus} users, think time ~${phase.thinkTimeMs} ms, ${phase.seconds}s (wrk)`);
  return runWrk({
    url: context.baseUrl,
    connections: phase.vus,
    threads: 2,
    seconds: phase.seconds,
    lua,
    workDir: context.workDir,
    name: phase.name,
    ...(context.timeoutSeconds ? { timeoutSeconds: context.timeoutSeconds } : {}),
  });
}

export interface ThresholdResult {
  metric: string;
  limit: string;
  actual: number;
  ok: boolean;
}

/** Judges per-type results against a threshold profile (k6's semantics: every limit over the whole run). */
export function judge(
  workload: Workload,
  profile: string,
  byType: Record<string, TypeSummary>,
  closed: { name: string; result: WrkResult }[] = [],
): ThresholdResult[] {
  const { byType: limits, checks } = limitsFor(workload, profile);
  const results: ThresholdResult[] = [];
  let checked = 0;
  let failed = 0;
  for (const [type, summary] of Object.entries(byType)) {
    const limit: Limits | undefined = limits[type];
    if (!limit) {
      results.push({
        metric: `${type} (unknown request type)`,
        limit: 'none',
        actual: summary.stats.requests,
        ok: false,
      });
      continue;
    }
    results.push(
      {
        metric: `${type} p95 ms`,
        limit: `< ${limit.p95Ms}`,
        actual: summary.stats.p95Ms,
        ok: summary.stats.p95Ms < limit.p95Ms,
      },
      {
        metric: `${type} p99 ms`,
        limit: `< ${limit.p99Ms}`,
        actual: summary.stats.p99Ms,
        ok: summary.stats.p99Ms < limit.p99Ms,
      },
      {
        metric: `${type} error rate`,
        limit: `< ${limit.errorRate}`,
        actual: summary.stats.errorRate,
        ok: summary.stats.errorRate < limit.errorRate,
      },
    );
    checked += summary.checks.checked;
    failed += summary.checks.failed;
  }
  const passRate = checked === 0 ? 0 : (checked - failed) / checked;
  results.push({
    metric: 'checks pass rate',
    limit: `> ${checks}`,
    actual: Number(passRate.toFixed(5)),
    ok: passRate > checks,
  });
  const profileLimits = workload.thresholds[profile];
  for (const { name, result } of closed) {
    const limit = profileLimits?.default;
    if (!limit) continue;
    const errorRate = result.requests === 0 ? 1 : result.errors / result.requests;
    results.push(
      {
        metric: `${name} (closed) p95 ms`,
        limit: `< ${limit.p95Ms}`,
        actual: result.p95Ms,
        ok: result.p95Ms < limit.p95Ms,
      },
      {
        metric: `${name} (closed) p99 ms`,
        limit: `< ${limit.p99Ms}`,
        actual: result.p99Ms,
        ok: result.p99Ms < limit.p99Ms,
      },
      {
        metric: `${name} (closed) error rate`,
        limit: `< ${limit.errorRate}`,
        actual: Number(errorRate.toPrecision(4)),
        ok: errorRate < limit.errorRate,
      },
    );
  }
  return results;
}

export interface ScenarioReport {
  scenario: string;
  description: string;
  thresholdProfile: string;
  baseUrl: string;
  startedAt: string;
  seconds: number;
  data: {
    categories: number;
    cursors: number;
    products: number;
    orderProducts: number;
    customers: number;
    orders: number;
  };
  /** Request types the discovered data could not serve (they were left out of the mix). */
  missingTypes: string[];
  phases: (
    | { name: string; model: 'open'; stages: StageMeasurement[] }
    | { name: string; model: 'closed'; vus: number; thinkTimeMs: number; result: WrkResult }
  )[];
  byType: Record<string, TypeSummary>;
  thresholds: ThresholdResult[];
  passed: boolean;
}

export interface ScenarioOptions {
  /** Multiplies every stage and phase duration (e.g. 0.25 for a quick look). */
  durationScale?: number;
  /** Multiplies every arrival rate and user count. */
  rateScale?: number;
}

export async function runScenario(
  context: RunContext,
  scenarioName: string,
  options: ScenarioOptions = {},
): Promise<ScenarioReport> {
  const scenario = context.workload.scenarios[scenarioName];
  if (!scenario) {
    throw new Error(`unknown scenario ${scenarioName}; one of: ${Object.keys(context.workload.scenarios).join(', ')}`);
  }
  const durationScale = options.durationScale ?? 1;
  const rateScale = options.rateScale ?? 1;
  const started = Date.now();
  const planner = createPlanner(context.workload, context.data);
  const run = createRunCollectors();
  const phases: ScenarioReport['phases'] = [];
  const closed: { name: string; result: WrkResult }[] = [];
  let openSeconds = 0;
  for (const phase of scenario.phases) {
    if (phase.model === 'open') {
      const stages: StageMeasurement[] = [];
      for (const [index, stage] of phase.stages.entries()) {
        const seconds = Math.max(1, Math.round(stage.seconds * durationScale));
        const rate = Math.max(1, Math.round(stage.rate * rateScale));
        openSeconds += seconds;
        stages.push(await runOpenStage(context, { name: `${phase.name}-${index + 1}`, rate, seconds }, run));
      }
      phases.push({ name: phase.name, model: 'open', stages });
    } else {
      const seconds = Math.max(1, Math.round(phase.seconds * durationScale));
      const vus = Math.max(1, Math.round(phase.vus * rateScale));
      const result = await runClosedPhase(context, { name: phase.name, vus, seconds, thinkTimeMs: phase.thinkTimeMs });
      phases.push({ name: phase.name, model: 'closed', vus, thinkTimeMs: phase.thinkTimeMs, result });
      closed.push({ name: phase.name, result });
    }
  }
  const byType: Record<string, TypeSummary> = {};
  for (const [type, collector] of [...run].sort()) byType[type] = summarizeCollector(collector, openSeconds);
  const thresholds = judge(context.workload, scenario.thresholds, byType, closed);
  if (planner.missing.length > 0) {
    thresholds.push({
      metric: `request types without data: ${planner.missing.join(', ')}`,
      limit: 'none',
      actual: planner.missing.length,
      ok: false,
    });
  }
  const data = context.data;
  return {
    scenario: scenarioName,
    description: scenario.description,
    thresholdProfile: scenario.thresholds,
    baseUrl: context.baseUrl,
    startedAt: new Date(started).toISOString(),
    seconds: Math.round((Date.now() - started) / 100) / 10,
    data: {
      categories: data.categories.length,
      cursors: data.cursors.length,
      products: data.productIds.length,
      orderProducts: data.orderProductIds.length,
      customers: data.customers.length,
      orders: data.customers.reduce((sum, customer) => sum + customer.orderIds.length, 0),
    },
    missingTypes: planner.missing,
    phases,
    byType,
    thresholds,
    passed: thresholds.every((threshold) => threshold.ok),
  };
}
