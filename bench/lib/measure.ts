/**
 * Measurements of the benchmark, each with the CPU profile of its window: closed-model throughput with wrk at a
 * fixed concurrency, open-model latency with vegeta at a fixed rate, and the search for the highest arrival rate a
 * system holds within a latency and error budget.
 */
import { createPlanner, createRandom } from '../../load-tests/lib/workload-core.js';
import type { PlannedRequest } from '../../load-tests/lib/workload-core.js';
import { runPlanned, type RunContext, type StageMeasurement } from '../../load-tests/native/scenario.ts';
import { runWrk, type WrkOptions, type WrkResult } from '../../load-tests/native/wrk.ts';
import { startCpuProfile, type CpuProfile, type Roles } from './cpu.ts';

export interface Figures {
  req_per_s: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
  /** Share of failed requests (transport errors and unexpected statuses). */
  errors: number;
  requests: number;
}

export interface Measured<T> {
  figures: Figures;
  detail: T;
  cpu: CpuProfile;
}

/** Rounded to two decimals, as every figure of latest.json is. */
export const r2 = (value: number) => Math.round(value * 100) / 100;

export function wrkFigures(result: WrkResult): Figures {
  return {
    req_per_s: Math.round(result.rps),
    p50_ms: r2(result.p50Ms),
    p95_ms: r2(result.p95Ms),
    p99_ms: r2(result.p99Ms),
    max_ms: r2(result.maxMs),
    errors: result.requests === 0 ? 1 : Number((result.errors / result.requests).toPrecision(3)),
    requests: result.requests,
  };
}

export function stageFigures(stage: StageMeasurement): Figures {
  const o = stage.overall;
  return {
    req_per_s: Math.round(o.rps),
    p50_ms: r2(o.p50Ms),
    p95_ms: r2(o.p95Ms),
    p99_ms: r2(o.p99Ms),
    max_ms: r2(o.maxMs),
    errors: Number(o.errorRate.toPrecision(3)),
    requests: o.requests,
  };
}

export interface Environment {
  roles: () => Roles;
  cores: number;
  log: (line: string) => void;
}

/** wrk at a fixed concurrency, after a short unmeasured warm-up at the same concurrency. */
export async function measureWrk(
  env: Environment,
  options: WrkOptions,
  warmupSeconds = 2,
): Promise<Measured<WrkResult>> {
  if (warmupSeconds > 0) await runWrk({ ...options, seconds: warmupSeconds, name: `${options.name}-warmup` });
  const profile = startCpuProfile(env.roles, env.cores);
  const result = await runWrk(options);
  const cpu = profile.stop();
  env.log(
    `  ${options.name}: ${Math.round(result.rps)} req/s at ${options.connections} connections, p50 ${r2(result.p50Ms)} ms, ` +
      `p99 ${r2(result.p99Ms)} ms, errors ${result.errors}`,
  );
  return { figures: wrkFigures(result), detail: result, cpu };
}

/** vegeta at a fixed rate over a prepared list of requests. */
export async function measureOpen(
  env: Environment,
  context: RunContext,
  requests: readonly PlannedRequest[],
  stage: { name: string; rate: number; seconds: number },
): Promise<Measured<StageMeasurement>> {
  const profile = startCpuProfile(env.roles, env.cores);
  const result = await runPlanned(context, requests, stage);
  const cpu = profile.stop();
  const f = stageFigures(result);
  env.log(`  ${stage.name}: ${stage.rate} req/s, p50 ${f.p50_ms} ms, p99 ${f.p99_ms} ms, errors ${f.errors}`);
  return { figures: f, detail: result, cpu };
}

/** The mix of workload.json drawn with a fixed seed: the same requests for the same rate, whoever serves them. */
export function planMix(context: RunContext, count: number, seed: number, sequenceStart: number): PlannedRequest[] {
  const planner = createPlanner(context.workload, context.data);
  const random = createRandom(seed);
  const out: PlannedRequest[] = [];
  for (let i = 0; i < count; i += 1) {
    out.push(
      planner.plan(planner.pickType(random), random, {
        runId: context.runId,
        sequence: sequenceStart + i,
        extraHeaders: context.headers,
      }),
    );
  }
  return out;
}

export interface Probe {
  rate: number;
  ok: boolean;
  figures: Figures;
  cpu: CpuProfile;
  byType: StageMeasurement['byType'];
}

export interface RateSearch {
  /** Highest rate that held the budget (0 when none did). */
  rate: number;
  best: Probe | undefined;
  /** Lowest rate that broke it. */
  failedAt: Probe | undefined;
  probes: Probe[];
}

/**
 * Highest arrival rate with p99 < p99Ms and error share < maxErrors: doubles from `start` until a probe fails,
 * quarters while the first ones fail (down to 1 req/s), then bisects until the bracket is within `precision` (relative) or the probe
 * budget is spent.
 */
export async function searchMaxRate(
  probe: (rate: number) => Promise<Measured<StageMeasurement>>,
  budget: { p99Ms: number; maxErrors: number },
  options: { start: number; maxProbes: number; precision: number; ceiling: number },
): Promise<RateSearch> {
  const probes: Probe[] = [];
  let best: Probe | undefined;
  let failedAt: Probe | undefined;
  let rate = options.start;
  while (probes.length < options.maxProbes) {
    const measured = await probe(rate);
    const ok = measured.figures.p99_ms < budget.p99Ms && measured.figures.errors < budget.maxErrors;
    const result: Probe = { rate, ok, figures: measured.figures, cpu: measured.cpu, byType: measured.detail.byType };
    probes.push(result);
    if (ok && (!best || rate > best.rate)) best = result;
    if (!ok && (!failedAt || rate < failedAt.rate)) failedAt = result;
    const low = best?.rate ?? 0;
    const high = failedAt?.rate;
    let next: number;
    if (high === undefined) next = Math.min(options.ceiling, rate * 2);
    // Nothing has held yet: step down faster (probes at low rates are the long ones).
    else if (low === 0) next = Math.max(1, Math.floor(rate / 4));
    else next = Math.round((low + high) / 2);
    if (high !== undefined && low > 0 && (high - low) / low <= options.precision) break;
    if (high === undefined && rate >= options.ceiling) break;
    if (low === 0 && rate <= 1) break;
    if (probes.some((p) => p.rate === next)) break;
    rate = next;
  }
  return { rate: best?.rate ?? 0, best, failedAt, probes };
}
