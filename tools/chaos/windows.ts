/**
 * The run cut into windows (the baseline, each fault, the recovery after each) and what the clients saw in each:
 * requests, answers other than expected, the error budget they spent, and the p99 of reads.
 *
 * Expected answers are the statuses workload.json lists per request type. The one exception the issue allows: a 503
 * problem+json with Retry-After while Postgres is down (to a request in flight at some time of the outage: one sent
 * a moment before the stop is answered during it). A POST answered 502 and repeated with its Idempotency-Key
 * (as the API tells clients to) is shown as "repeated"; it spends budget but is no violation by itself (its repeat
 * is judged like any answer).
 */
import { percentile } from '../../load-tests/native/stats.ts';
import type { FaultKind, FaultWindow } from './faults.ts';
import type { Sample } from './traffic.ts';

export interface WindowRow {
  name: string;
  kind: FaultKind | 'baseline' | 'recovery';
  startMs: number;
  endMs: number;
  requests: number;
  /** Answers other than the expected status (allowed 503s and repeated 502s included). */
  unexpected: number;
  /** Of those: 503 problem+json with Retry-After during the Postgres outage. */
  allowed: number;
  repeated: number;
  /** Unexpected answers the invariant forbids. */
  violations: Sample[];
  /** Share of the run's error budget these answers spent (1 = all of it). */
  budgetSpent: number;
  readP99Ms: number;
  reads: number;
  /** Statuses of the unexpected answers, e.g. "503 x12, 502 x1". */
  statuses: string;
}

export function windowsOf(faults: FaultWindow[], loadStartMs: number, loadEndMs: number) {
  const spans: { name: string; kind: WindowRow['kind']; startMs: number; endMs: number }[] = [];
  spans.push({ name: 'baseline', kind: 'baseline', startMs: loadStartMs, endMs: faults[0]?.startMs ?? loadEndMs });
  faults.forEach((fault, index) => {
    spans.push({ name: fault.label, kind: fault.kind, startMs: fault.startMs, endMs: fault.endMs });
    const next = faults[index + 1]?.startMs ?? loadEndMs;
    spans.push({
      name: `  after recovery`,
      kind: 'recovery',
      startMs: fault.endMs,
      endMs: Math.max(fault.endMs, next),
    });
  });
  return spans;
}

/** A 503 problem+json with Retry-After to a request that was in flight at some time of a Postgres outage. */
function allowedBy(outages: readonly FaultWindow[]) {
  return (sample: Sample): boolean =>
    sample.status === 503 &&
    sample.problemJson &&
    sample.retryAfter &&
    outages.some((outage) => sample.startedMs < outage.endMs && sample.startedMs + sample.latencyMs >= outage.startMs);
}

/** One row per window; `budget` is the number of unexpected answers the whole run may have. */
export function measureWindows(
  samples: readonly Sample[],
  faults: FaultWindow[],
  loadStartMs: number,
  loadEndMs: number,
  errorRateObjective: number,
): WindowRow[] {
  const spans = windowsOf(faults, loadStartMs, loadEndMs);
  const sorted = [...samples].sort((a, b) => a.startedMs - b.startedMs);
  const budget = Math.max(1, errorRateObjective * sorted.length);
  const isAllowed = allowedBy(faults.filter((fault) => fault.kind === 'postgres'));
  let cursor = 0;
  return spans.map((span) => {
    const inside: Sample[] = [];
    // Samples sent before the load started (capacity measurement) or after it fall outside every span.
    while (cursor < sorted.length && (sorted[cursor] as Sample).startedMs < span.startMs) cursor += 1;
    while (cursor < sorted.length && (sorted[cursor] as Sample).startedMs < span.endMs) {
      inside.push(sorted[cursor] as Sample);
      cursor += 1;
    }
    const unexpected = inside.filter((sample) => !sample.expected);
    const readLatencies = Float64Array.from(inside.filter((s) => s.read).map((s) => s.latencyMs)).sort();
    const counts = new Map<string, number>();
    for (const sample of unexpected) {
      const key = sample.status === 0 ? `error ${sample.error ?? ''}`.trim() : String(sample.status);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    return {
      ...span,
      requests: inside.length,
      unexpected: unexpected.length,
      allowed: unexpected.filter(isAllowed).length,
      repeated: unexpected.filter((sample) => sample.repeated).length,
      violations: unexpected.filter((sample) => !sample.repeated && !isAllowed(sample)),
      budgetSpent: unexpected.length / budget,
      readP99Ms: percentile(readLatencies, 99),
      reads: readLatencies.length,
      statuses: [...counts].map(([status, count]) => `${status} x${count}`).join(', '),
    };
  });
}

/** The per-window table as Markdown (the README shows the last long run's). */
export function windowTable(rows: readonly WindowRow[]): string {
  const lines = [
    '| window | s | requests | unexpected (statuses) | of which allowed / repeated | violations | budget spent | read p99 ms |',
    '|---|---:|---:|---|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const seconds = ((row.endMs - row.startMs) / 1000).toFixed(1);
    const unexpected = row.unexpected === 0 ? '0' : `${row.unexpected} (${row.statuses})`;
    lines.push(
      `| ${row.name} | ${seconds} | ${row.requests} | ${unexpected} | ${row.allowed} / ${row.repeated} | ` +
        `${row.violations.length} | ${(row.budgetSpent * 100).toFixed(1)} % | ${row.readP99Ms.toFixed(1)} |`,
    );
  }
  return lines.join('\n');
}
