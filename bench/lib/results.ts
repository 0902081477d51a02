/** The shape of bench/results/latest.json and its Markdown table. */
import { readFile, writeFile } from 'node:fs/promises';
import type { CpuProfile } from './cpu.ts';
import type { Figures } from './measure.ts';
import type { Machine } from './machine.ts';

export interface BenchKey {
  /** stack / reference (list latency: the 1M / 10k p50); null when it could not be computed. */
  ratio: number | null;
  target: string;
  met: boolean | null;
  stack: (Figures & { cpu: CpuProfile; [extra: string]: unknown }) | null;
  reference: (Figures & { cpu: CpuProfile; [extra: string]: unknown }) | null;
  /** How it was measured, in a sentence or three. */
  method: string;
  /** When the target is missed: what limits it, from the measurement's CPU profile or Postgres' plan. */
  note: string;
  [extra: string]: unknown;
}

/** A key's row in the table (bench/keys/key.ts adds how it is measured). */
export interface KeyRow {
  /** The key in latest.json and in BENCH_ONLY. */
  readonly name: string;
  /** The table's "measure" column: what is compared with what. */
  readonly title: string;
  /**
   * How the table shows the stack and reference figures: a rate in `req/s` or `orders/s` with its latencies,
   * `rows/s` with the run's seconds, or `ms` latencies only.
   */
  readonly unit: 'req/s' | 'orders/s' | 'rows/s' | 'ms';
}

/** What latest.json holds besides the keys, which follow it at the top level in table order. */
export interface BenchRun {
  generated_at: string;
  command: string;
  duration_seconds: number;
  machine: Machine;
  versions: Record<string, string>;
  settings: Record<string, unknown>;
  data: Record<string, unknown>;
}

/** Every key in table order with its result, null when it was not measured. */
export type KeyResults = readonly { row: KeyRow; result: BenchKey | null }[];

export function resultsJson(run: BenchRun, keys: KeyResults): Record<string, unknown> {
  return {
    ...run,
    ...Object.fromEntries(keys.map(({ row, result }) => [row.name, result])),
  };
}

function side(row: KeyRow, key: BenchKey, which: 'stack' | 'reference'): string {
  const f = key[which];
  if (!f) return '-';
  if (row.unit === 'ms') return `p50 ${f.p50_ms} ms, p95 ${f.p95_ms}, p99 ${f.p99_ms}`;
  if (row.unit === 'rows/s') return `${f.req_per_s} rows/s (${(f.max_ms / 1000).toFixed(1)} s)`;
  // A key whose figures are those of a probe, not its rate (mix_vs_naive), records the rates beside them.
  const rate = key[which === 'stack' ? 'stack_rate' : 'naive_rate'];
  const shown = rate === undefined ? `${f.req_per_s} ${row.unit}` : `${String(rate)} req/s`;
  return `${shown}; p50 ${f.p50_ms} / p95 ${f.p95_ms} / p99 ${f.p99_ms} ms; errors ${(f.errors * 100).toFixed(2)} %`;
}

export function markdownTable(run: BenchRun, keys: KeyResults): string {
  const lines = [
    `Benchmark: \`${run.command}\` on ${run.generated_at.slice(0, 16).replace('T', ' ')} UTC, ` +
      `${run.machine.cores} cores (${run.machine.cpu}), ${run.duration_seconds} s. ` +
      `Node ${run.versions.node}, ${run.versions.postgres}, ${run.versions.nginx}, ${run.versions.redis}.` +
      (run.settings.scale !== 1 || run.settings.large_products !== 1_000_000
        ? ` Quick check (BENCH_SCALE=${String(run.settings.scale)}, ${String(run.settings.large_products)} products): rough figures.`
        : ''),
    '',
    '| measure | ratio | target | met | stack | reference |',
    '|---|---:|---:|:---:|---|---|',
  ];
  for (const { row, result: key } of keys) {
    if (!key) {
      lines.push(`| ${row.title} | - | - | not measured | - | - |`);
      continue;
    }
    const met = key.met === null ? '-' : key.met ? 'yes' : '**no**';
    const ratio = key.ratio === null ? '-' : `${key.ratio_is_lower_bound ? '>= ' : ''}${key.ratio}`;
    lines.push(
      `| ${row.title} | ${ratio} | ${key.target} | ${met} | ${side(row, key, 'stack')} | ${side(row, key, 'reference')} |`,
    );
  }
  for (const { row, result } of keys) {
    if (typeof result?.naive_note === 'string') lines.push('', `Note on ${row.name}: ${result.naive_note}.`);
  }
  const notes = keys.filter(({ result }) => result?.note).map(({ row, result }) => `- ${row.name}: ${result?.note}`);
  if (notes.length > 0)
    lines.push(
      '',
      'What limits the missed targets (from the CPU profile or Postgres plan of that measurement):',
      ...notes,
    );
  lines.push('', 'Full figures, methods and CPU profiles: `bench/results/latest.json`.', '');
  return lines.join('\n');
}

const BEGIN = '<!-- bench:begin -->';
const END = '<!-- bench:end -->';

/** Replaces the text between the bench markers of a README, when it has them; true when it did. */
export async function updateReadmeMarkers(path: string, markdown: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return false;
  }
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) return false;
  await writeFile(path, `${text.slice(0, start + BEGIN.length)}\n${markdown}\n${text.slice(end)}`);
  return true;
}
