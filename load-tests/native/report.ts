/** Human-readable output of a native run: a text table for the terminal, JSON and a self-contained HTML page. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ThresholdResult, TypeSummary } from './checks.ts';
import type { ScenarioReport } from './scenario.ts';

const pad = (value: string, width: number) =>
  value.length >= width ? value : value + ' '.repeat(width - value.length);
const padLeft = (value: string, width: number) =>
  value.length >= width ? value : ' '.repeat(width - value.length) + value;

export function typeTable(byType: Record<string, TypeSummary>): string {
  const header = ['type', 'requests', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'errors', 'checks', 'statuses'];
  const rows = Object.entries(byType).map(([type, summary]) => {
    const s = summary.stats;
    const checks =
      summary.checks.checked === 0
        ? '-'
        : `${summary.checks.checked - summary.checks.failed}/${summary.checks.checked}`;
    return [
      type,
      String(s.requests),
      s.rps.toFixed(1),
      s.p50Ms.toFixed(1),
      s.p95Ms.toFixed(1),
      s.p99Ms.toFixed(1),
      s.maxMs.toFixed(1),
      `${(s.errorRate * 100).toFixed(2)}%`,
      checks,
      Object.entries(summary.statuses)
        .map(([status, count]) => `${status}:${count}`)
        .join(' '),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 || i === cells.length - 1 ? pad(cell, widths[i] ?? 0) : padLeft(cell, widths[i] ?? 0)))
      .join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

export function thresholdLines(thresholds: ThresholdResult[]): string {
  return thresholds
    .map((t) => `${t.ok ? '  ok  ' : '  FAIL'} ${pad(t.metric, 34)} ${pad(t.limit, 10)} actual ${t.actual}`)
    .join('\n');
}

export function textReport(report: ScenarioReport): string {
  const lines = [
    `scenario ${report.scenario} (${report.description}) against ${report.baseUrl}, ${report.seconds}s`,
    `data: ${report.data.categories} categories, ${report.data.products} products, ${report.data.cursors} cursors, ` +
      `${report.data.customers} customers, ${report.data.orders} orders`,
  ];
  for (const phase of report.phases) {
    if (phase.model === 'open') {
      for (const stage of phase.stages) {
        const o = stage.overall;
        lines.push(
          `open   ${pad(stage.name, 12)} ${stage.rate} req/s x ${stage.seconds}s: ${o.requests} requests, ` +
            `p50 ${o.p50Ms} ms, p95 ${o.p95Ms} ms, p99 ${o.p99Ms} ms, errors ${(o.errorRate * 100).toFixed(2)}%, ` +
            `edge cache hits ${(stage.edgeCacheHits * 100).toFixed(0)}%`,
        );
      }
    } else {
      const r = phase.result;
      lines.push(
        `closed ${pad(phase.name, 12)} ${phase.vus} users: ${r.requests} requests, ${r.rps.toFixed(1)} req/s, ` +
          `p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms, p99 ${r.p99Ms} ms, errors ${r.errors}`,
      );
    }
  }
  lines.push('', typeTable(report.byType), '', 'thresholds:', thresholdLines(report.thresholds));
  lines.push('', report.passed ? 'all thresholds passed' : 'THRESHOLDS FAILED');
  return lines.join('\n');
}

const escapeHtml = (value: string) =>
  value.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

export function htmlReport(report: ScenarioReport): string {
  const typeRows = Object.entries(report.byType)
    .map(([type, summary]) => {
      const s = summary.stats;
      return `<tr><td>${escapeHtml(type)}</td><td>${s.requests}</td><td>${s.p50Ms}</td><td>${s.p95Ms}</td><td>${s.p99Ms}</td><td>${s.maxMs}</td><td>${(s.errorRate * 100).toFixed(2)}%</td><td>${summary.checks.checked - summary.checks.failed}/${summary.checks.checked}</td><td>${escapeHtml(JSON.stringify(summary.statuses))}</td></tr>`;
    })
    .join('\n');
  const thresholdRows = report.thresholds
    .map(
      (t) =>
        `<tr class="${t.ok ? 'ok' : 'fail'}"><td>${t.ok ? 'ok' : 'FAIL'}</td><td>${escapeHtml(t.metric)}</td><td>${escapeHtml(t.limit)}</td><td>${t.actual}</td></tr>`,
    )
    .join('\n');
  const stageRows = report.phases
    .flatMap((phase) =>
      phase.model === 'open'
        ? phase.stages.map(
            (s) =>
              `<tr><td>open</td><td>${escapeHtml(s.name)}</td><td>${s.rate} req/s x ${s.seconds}s</td><td>${s.overall.requests}</td><td>${s.overall.p50Ms}</td><td>${s.overall.p95Ms}</td><td>${s.overall.p99Ms}</td><td>${(s.overall.errorRate * 100).toFixed(2)}%</td></tr>`,
          )
        : [
            `<tr><td>closed</td><td>${escapeHtml(phase.name)}</td><td>${phase.vus} users, think ~${phase.thinkTimeMs} ms</td><td>${phase.result.requests}</td><td>${phase.result.p50Ms}</td><td>${phase.result.p95Ms}</td><td>${phase.result.p99Ms}</td><td>${phase.result.errors}</td></tr>`,
          ],
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Load test ${escapeHtml(report.scenario)} ${escapeHtml(report.startedAt)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}td:first-child,th:first-child{text-align:left}.fail{background:#fdd}.ok{background:#efe}</style></head>
<body><h1>Load test: ${escapeHtml(report.scenario)} ${report.passed ? '(passed)' : '(THRESHOLDS FAILED)'}</h1>
<p>${escapeHtml(report.description)}<br>Target ${escapeHtml(report.baseUrl)}, started ${escapeHtml(report.startedAt)}, ${report.seconds} s. Generated by load-tests/native (vegeta for open-model stages, wrk for closed-model phases).</p>
<h2>Phases</h2><table><tr><th>model</th><th>phase</th><th>load</th><th>requests</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>errors</th></tr>
${stageRows}</table>
<h2>By request type (open-model stages)</h2><table><tr><th>type</th><th>requests</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>errors</th><th>checks</th><th>statuses</th></tr>
${typeRows}</table>
<h2>Thresholds (${escapeHtml(report.thresholdProfile)})</h2><table><tr><th></th><th>metric</th><th>limit</th><th>actual</th></tr>
${thresholdRows}</table>
</body></html>
`;
}

/** Writes summary.json and report.html into `dir`; returns their paths. */
export async function writeReports(report: ScenarioReport, dir: string): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, 'summary.json');
  const html = join(dir, 'report.html');
  await writeFile(json, JSON.stringify(report, null, 2) + '\n');
  await writeFile(html, htmlReport(report));
  return { json, html };
}
