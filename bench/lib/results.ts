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

export const KEYS = [
  'hot_read_vs_nginx_static',
  'cached_read_vs_bare_node',
  'mix_vs_naive',
  'orders_vs_pgbench',
  'import_vs_copy',
  'list_latency_1m_vs_10k',
] as const;

export interface BenchResults {
  generated_at: string;
  command: string;
  duration_seconds: number;
  machine: Machine;
  versions: Record<string, string>;
  settings: Record<string, unknown>;
  data: Record<string, unknown>;
  hot_read_vs_nginx_static: BenchKey | null;
  cached_read_vs_bare_node: BenchKey | null;
  mix_vs_naive: BenchKey | null;
  orders_vs_pgbench: BenchKey | null;
  import_vs_copy: BenchKey | null;
  list_latency_1m_vs_10k: BenchKey | null;
}

const LABELS: Record<(typeof KEYS)[number], { what: string; unit: string }> = {
  hot_read_vs_nginx_static: { what: 'Hottest public read, full stack / nginx static file', unit: 'req/s' },
  cached_read_vs_bare_node: { what: 'Redis-cached read (edge bypassed) / bare Node from memory', unit: 'req/s' },
  mix_vs_naive: { what: 'Mixed workload, max rate at p99 < 100 ms, < 0.1 % errors: stack / naive', unit: 'req/s' },
  orders_vs_pgbench: { what: 'Order creations / pgbench running the same SQL', unit: 'orders/s' },
  import_vs_copy: { what: 'CSV import through api + worker / psql \\copy', unit: 'rows/s' },
  list_latency_1m_vs_10k: { what: 'p50 of uncached list page and search, 1M / 10k products', unit: 'ms' },
};

function side(key: BenchKey, which: 'stack' | 'reference', name: (typeof KEYS)[number]): string {
  const f = key[which];
  if (!f) return '-';
  if (name === 'list_latency_1m_vs_10k') return `p50 ${f.p50_ms} ms, p95 ${f.p95_ms}, p99 ${f.p99_ms}`;
  if (name === 'import_vs_copy') return `${f.req_per_s} rows/s (${(f.max_ms / 1000).toFixed(1)} s)`;
  const rate =
    name === 'mix_vs_naive'
      ? `${String(key[which === 'stack' ? 'stack_rate' : 'naive_rate'] ?? f.req_per_s)} req/s`
      : `${f.req_per_s} ${LABELS[name].unit}`;
  return `${rate}; p50 ${f.p50_ms} / p95 ${f.p95_ms} / p99 ${f.p99_ms} ms; errors ${(f.errors * 100).toFixed(2)} %`;
}

export function markdownTable(results: BenchResults): string {
  const lines = [
    `Benchmark: \`${results.command}\` on ${results.generated_at.slice(0, 16).replace('T', ' ')} UTC, ` +
      `${results.machine.cores} cores (${results.machine.cpu}), ${results.duration_seconds} s. ` +
      `Node ${results.versions.node}, ${results.versions.postgres}, ${results.versions.nginx}, ${results.versions.redis}.` +
      (results.settings.scale !== 1 || results.settings.large_products !== 1_000_000
        ? ` Quick check (BENCH_SCALE=${String(results.settings.scale)}, ${String(results.settings.large_products)} products): rough figures.`
        : ''),
    '',
    '| measure | ratio | target | met | stack | reference |',
    '|---|---:|---:|:---:|---|---|',
  ];
  for (const name of KEYS) {
    const key = results[name];
    if (!key) {
      lines.push(`| ${LABELS[name].what} | - | - | not measured | - | - |`);
      continue;
    }
    const met = key.met === null ? '-' : key.met ? 'yes' : '**no**';
    const ratio = key.ratio === null ? '-' : `${key.ratio_is_lower_bound ? '>= ' : ''}${key.ratio}`;
    lines.push(
      `| ${LABELS[name].what} | ${ratio} | ${key.target} | ${met} | ${side(key, 'stack', name)} | ${side(key, 'reference', name)} |`,
    );
  }
  const notes = KEYS.filter((name) => results[name]?.note).map((name) => `- ${name}: ${results[name]?.note}`);
  const naiveNote = results.mix_vs_naive?.naive_note;
  if (typeof naiveNote === 'string') lines.push('', `Note on mix_vs_naive: ${naiveNote}.`);
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
