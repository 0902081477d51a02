/** Latency and error statistics, computed the same way for every load generator and every run. */

export interface LatencyStats {
  requests: number;
  errors: number;
  errorRate: number;
  /** Completed requests per second over the measured window. */
  rps: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile of an ascending array (0 when empty). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}

export function summarize(latenciesMs: number[], errors: number, seconds: number): LatencyStats {
  const sorted = Float64Array.from(latenciesMs).sort();
  const requests = sorted.length;
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    requests,
    errors,
    errorRate: requests === 0 ? 0 : errors / requests,
    rps: seconds > 0 ? requests / seconds : 0,
    meanMs: requests === 0 ? 0 : sum / requests,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: requests === 0 ? 0 : (sorted[requests - 1] ?? 0),
  };
}

/** Rounds the figures of a stats object for reports (ms to 0.01, rates to 4 significant places). */
export function rounded(stats: LatencyStats): LatencyStats {
  const ms = (value: number) => Math.round(value * 100) / 100;
  return {
    requests: stats.requests,
    errors: stats.errors,
    errorRate: Number(stats.errorRate.toPrecision(4)),
    rps: Math.round(stats.rps * 10) / 10,
    meanMs: ms(stats.meanMs),
    p50Ms: ms(stats.p50Ms),
    p95Ms: ms(stats.p95Ms),
    p99Ms: ms(stats.p99Ms),
    maxMs: ms(stats.maxMs),
  };
}
