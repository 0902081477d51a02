/**
 * Open-model stages with vegeta: requests arrive at a fixed rate whatever the latency, measured per request type
 * (latencies, statuses, content checks on the responses whose bodies were kept, nginx's cache answers).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { failedChecks } from '../lib/workload-core.js';
import type { PlannedRequest } from '../lib/workload-core.js';
import { collectorOf, createCollector, record, summarizeByType } from './checks.ts';
import type { Sample, TypeCollector, TypeSummary } from './checks.ts';
import type { RequestDraws, RunContext } from './context.ts';
import { rounded, summarize, type LatencyStats } from './stats.ts';
import { attack, readResults, writeTargets, type HttpRequestSpec, type VegetaResult } from './vegeta.ts';

export interface StageMeasurement {
  name: string;
  rate: number;
  seconds: number;
  overall: LatencyStats;
  byType: Record<string, TypeSummary>;
  /** Responses answered by nginx's micro-cache (HIT/STALE/UPDATING) out of those with an X-Cache-Status. */
  edgeCacheHits: number;
}

interface Stage {
  name: string;
  rate: number;
  seconds: number;
}

/**
 * One open-model stage: `rate` arrivals per second for `seconds`, drawn from the mix. Samples go into `run` (for
 * the thresholds) and the stage's own figures are returned.
 */
export async function runOpenStage(
  context: RunContext,
  draws: RequestDraws,
  stage: Stage,
  run?: Map<string, TypeCollector>,
): Promise<StageMeasurement> {
  return runPlanned(context, draws.next(Math.ceil(stage.rate * stage.seconds) + 1), stage, run);
}

/** One vegeta attack of a stage: its targets and results files, its rate, whether it keeps bodies. */
interface Attack {
  targets: string;
  results: string;
  rate: number;
  bodies: boolean;
  name: string;
}

/**
 * Sends `planned` (in order, cycling if the stage needs more) at `rate` per second for `seconds`, and measures them
 * by request type. The requests need not come from the workload's planner (the benchmark sends its own lists).
 */
export async function runPlanned(
  context: RunContext,
  planned: readonly PlannedRequest[],
  stage: Stage,
  run?: Map<string, TypeCollector>,
): Promise<StageMeasurement> {
  await mkdir(context.workDir, { recursive: true });
  const byKey = new Map<string, PlannedRequest>();
  const toSpec = (request: PlannedRequest): HttpRequestSpec => {
    const url = context.baseUrl.replace(/\/$/, '') + request.path;
    byKey.set(`${request.method} ${url}`, request);
    return { method: request.method, url, headers: request.headers, body: request.body };
  };

  // Content checks on a steady trickle with full bodies; the rest without bodies (see checkRate).
  const checkRate = context.checkRate ?? 10;
  const every = stage.rate <= checkRate ? 1 : Math.max(2, Math.round(stage.rate / checkRate));
  const checkedRate = every === 1 ? stage.rate : stage.rate / every;
  const base = join(context.workDir, `${stage.name}-${stage.rate}`);
  const attacks: Attack[] = [
    {
      targets: `${base}.checked.targets`,
      results: `${base}.checked.bin`,
      rate: checkedRate,
      bodies: true,
      name: `${stage.name}-checked`,
    },
  ];
  await writeTargets(`${base}.checked.targets`, planned.filter((_, i) => i % every === 0).map(toSpec));
  const unchecked = every === 1 ? [] : planned.filter((_, i) => i % every !== 0);
  if (unchecked.length > 0) {
    const rate = stage.rate - checkedRate;
    attacks.push({ targets: `${base}.targets`, results: `${base}.bin`, rate, bodies: false, name: stage.name });
    await writeTargets(`${base}.targets`, unchecked.map(toSpec));
  }
  context.log?.(`  ${stage.name}: ${stage.rate} req/s for ${stage.seconds}s (${planned.length} requests)`);
  await Promise.all(
    attacks.map((one) =>
      attack({
        targetsFile: one.targets,
        resultsFile: one.results,
        rate: one.rate,
        seconds: stage.seconds,
        maxBody: one.bodies ? -1 : 0,
        name: one.name,
        ...(context.timeoutSeconds ? { timeoutSeconds: context.timeoutSeconds } : {}),
      }),
    ),
  );
  const measurement = await measureStage(context, byKey, attacks, stage, run);
  if (!context.keepRaw) {
    const files = [`${base}.checked.targets`, `${base}.targets`, ...attacks.map((one) => one.results)];
    await Promise.all(files.map((file) => rm(file, { force: true })));
  }
  return measurement;
}

/** Reads the attacks' results back and sorts every sample into the stage's (and the run's) collectors. */
async function measureStage(
  context: RunContext,
  byKey: Map<string, PlannedRequest>,
  attacks: readonly Attack[],
  stage: Stage,
  run?: Map<string, TypeCollector>,
): Promise<StageMeasurement> {
  const stageTypes = new Map<string, TypeCollector>();
  const overall = createCollector();
  let cacheHits = 0;
  let cacheSeen = 0;
  for (const one of attacks) {
    for await (const result of readResults(one.results)) {
      const request = byKey.get(`${result.method} ${result.url}`);
      const type = request?.type ?? 'unknown';
      const sample = toSample(context, request, result, one.bodies);
      for (const collector of [overall, collectorOf(stageTypes, type), ...(run ? [collectorOf(run, type)] : [])]) {
        record(collector, sample);
      }
      if (result.cacheStatus) {
        cacheSeen += 1;
        if (/^(HIT|STALE|UPDATING|REVALIDATED)$/.test(result.cacheStatus)) cacheHits += 1;
      }
    }
  }
  return {
    name: stage.name,
    rate: stage.rate,
    seconds: stage.seconds,
    overall: rounded(summarize(overall.latencies, overall.errors, stage.seconds)),
    byType: summarizeByType(stageTypes, stage.seconds),
    edgeCacheHits: cacheSeen === 0 ? 0 : Math.round((cacheHits / cacheSeen) * 1000) / 1000,
  };
}

/** A vegeta result judged by its request's spec: an error unless the status is expected; checked when it can be. */
function toSample(
  context: RunContext,
  request: PlannedRequest | undefined,
  result: VegetaResult,
  bodies: boolean,
): Sample {
  const type = request?.type ?? 'unknown';
  const spec = context.workload.requests[type] ?? context.extraTypes?.[type];
  const isError = result.code === 0 || !spec || !spec.expect.status.includes(result.code);
  const checkable = bodies && !isError && spec && request && result.body !== null;
  return {
    latencyMs: result.latencyMs,
    isError,
    status: result.code === 0 ? `error: ${shortError(result.error)}` : String(result.code),
    failures: checkable ? failedChecks(spec, result.code, result.body, request.values) : null,
    cacheStatus: result.cacheStatus,
  };
}

function shortError(error: string): string {
  if (/timeout|deadline/i.test(error)) return 'timeout';
  if (/connection refused/i.test(error)) return 'connection refused';
  if (/reset/i.test(error)) return 'connection reset';
  return error.slice(0, 60);
}
