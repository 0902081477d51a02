/**
 * What a native run measures per request type (latencies, statuses, content checks, edge cache answers) and how the
 * results are judged against workload.json's thresholds, with k6's semantics: every limit over the whole run.
 */
import { limitsFor } from '../lib/workload-core.js';
import type { Limits, Workload } from '../lib/workload-core.js';
import { rounded, summarize, type LatencyStats } from './stats.ts';
import type { WrkResult } from './wrk.ts';

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

export interface TypeSummary {
  stats: LatencyStats;
  statuses: Record<string, number>;
  checks: { checked: number; failed: number; failures: Record<string, number> };
}

/** One answered (or failed) request as the collectors see it. */
export interface Sample {
  latencyMs: number;
  isError: boolean;
  /** The HTTP status, or "error: <kind>" when there was no answer. */
  status: string;
  /** Failed content checks; null when the response was not checked (no body kept, or already an error). */
  failures: string[] | null;
  cacheStatus: string | null;
}

export function createCollector(): TypeCollector {
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

/** The collector of `key`, created on first use. */
export function collectorOf(collectors: Map<string, TypeCollector>, key: string): TypeCollector {
  let collector = collectors.get(key);
  if (!collector) {
    collector = createCollector();
    collectors.set(key, collector);
  }
  return collector;
}

const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

export function record(collector: TypeCollector, sample: Sample): void {
  collector.latencies.push(sample.latencyMs);
  if (sample.isError) collector.errors += 1;
  bump(collector.statuses, sample.status);
  if (sample.failures) {
    collector.checked += 1;
    if (sample.failures.length > 0) collector.checksFailed += 1;
    for (const failure of sample.failures) bump(collector.checkFailures, failure);
  }
  if (sample.cacheStatus) bump(collector.cache, sample.cacheStatus);
}

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

/** Per-type summaries of a map of collectors, sorted by type. */
export function summarizeByType(collectors: Map<string, TypeCollector>, seconds: number): Record<string, TypeSummary> {
  const byType: Record<string, TypeSummary> = {};
  for (const [type, collector] of [...collectors].sort()) byType[type] = summarizeCollector(collector, seconds);
  return byType;
}

export interface ThresholdResult {
  metric: string;
  limit: string;
  actual: number;
  ok: boolean;
}

/** p95, p99 and error rate of `name` against `limit`. */
function limitResults(
  name: string,
  actual: { p95Ms: number; p99Ms: number; errorRate: number },
  limit: Limits,
): ThresholdResult[] {
  return [
    { metric: `${name} p95 ms`, limit: `< ${limit.p95Ms}`, actual: actual.p95Ms, ok: actual.p95Ms < limit.p95Ms },
    { metric: `${name} p99 ms`, limit: `< ${limit.p99Ms}`, actual: actual.p99Ms, ok: actual.p99Ms < limit.p99Ms },
    {
      metric: `${name} error rate`,
      limit: `< ${limit.errorRate}`,
      actual: actual.errorRate,
      ok: actual.errorRate < limit.errorRate,
    },
  ];
}

/**
 * Judges per-type results against a threshold profile, plus the checks pass rate over every type; closed-model
 * phases (wrk measures them as a whole) against the profile's default limits.
 */
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
    const limit = limits[type];
    if (!limit) {
      results.push({
        metric: `${type} (unknown request type)`,
        limit: 'none',
        actual: summary.stats.requests,
        ok: false,
      });
      continue;
    }
    results.push(...limitResults(type, summary.stats, limit));
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
  const defaults = workload.thresholds[profile]?.default;
  for (const { name, result } of defaults ? closed : []) {
    const errorRate = result.requests === 0 ? 1 : result.errors / result.requests;
    const actual = { p95Ms: result.p95Ms, p99Ms: result.p99Ms, errorRate: Number(errorRate.toPrecision(4)) };
    results.push(...limitResults(`${name} (closed)`, actual, defaults as Limits));
  }
  return results;
}
