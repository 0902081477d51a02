/**
 * A CSV catalog import through the api and worker (upload to completed status) / psql \copy of the same rows into the
 * same table.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { productRows } from '@stack/core';
import type { BenchContext } from '../lib/context.ts';
import { startCpuProfile, type CpuProfile } from '../lib/cpu.ts';
import { copyProductsCsv, withClient } from '../lib/data.ts';
import { r2, type Figures } from '../lib/measure.ts';
import type { BenchKey } from '../lib/results.ts';
import { throughputLimit } from '../lib/verdict.ts';
import type { BenchmarkKey } from './key.ts';

export const importVsCopy: BenchmarkKey = {
  name: 'import_vs_copy',
  title: 'CSV import through api + worker / psql \\copy',
  unit: 'rows/s',
  catalogs: 'large',
  async measure(context) {
    const rows = context.settings.import_rows;
    const key = await importAndCopy(context, rows);
    await context.explainWithProfile(key, 'worker', () => importAndCopy(context, Math.round(rows / 4)));
    return key;
  },
};

interface Timed {
  rows: number;
  seconds: number;
  cpu: CpuProfile;
}

/** Imports `rows` new products through the api and worker, then \copy-s the same rows; the key from both rates. */
async function importAndCopy(context: BenchContext, rows: number): Promise<BenchKey> {
  const files = await csvFiles(context, rows);
  const imported = await importThroughApi(context, files.importBody);
  const copied = await copyWithPsql(context, files.copyPath);
  context.env.log(`  \\copy: ${rows} rows in ${copied.seconds.toFixed(1)} s`);
  const importRate = imported.rows / imported.seconds;
  const copyRate = rows / copied.seconds;
  const side = (rate: number, timed: Timed, errors: number) => ({
    ...figures(rate, timed.seconds, timed.rows, errors),
    rows_per_s: Math.round(rate),
    seconds: r2(timed.seconds),
    cpu: timed.cpu,
  });
  const met = importRate / copyRate >= 0.5;
  return {
    ratio: r2(importRate / copyRate),
    target: '>= 0.5',
    met,
    stack: side(importRate, imported, imported.failed / rows),
    reference: side(copyRate, { ...copied, rows }, 0),
    method:
      `${rows} new products as CSV (${(files.importBody.length / 1e6).toFixed(1)} MB): POST /api/v1/admin/imports ` +
      `through nginx, stored by the api, parsed, validated and upserted by the worker; rows/s from the upload to the ` +
      `completed status / psql \\copy of the same rows (other SKUs, category ids instead of slugs) into the same ` +
      `products table. req_per_s here = rows per second; max_ms = the whole run. Latency percentiles do not apply.`,
    note: met
      ? ''
      : `import ${Math.round(importRate)} rows/s vs \\copy ${Math.round(copyRate)} rows/s. ` +
        throughputLimit('import', imported.cpu) +
        '. ' +
        throughputLimit('\\copy', copied.cpu),
  };
}

function figures(rate: number, seconds: number, count: number, errors: number): Figures {
  return {
    req_per_s: Math.round(rate),
    p50_ms: 0,
    p95_ms: 0,
    p99_ms: 0,
    max_ms: r2(seconds * 1000),
    errors,
    requests: count,
  };
}

/** The same seeded products twice: for the import (category slugs) and for \copy (category ids), other SKUs each. */
async function csvFiles(context: BenchContext, rows: number): Promise<{ importBody: Buffer; copyPath: string }> {
  const slugs = await withClient(context.databaseUrl, async (client) => {
    const { rows: found } = await client.query<{ id: number; slug: string }>('SELECT id, slug FROM categories');
    return new Map(found.map((row) => [row.id, row.slug]));
  });
  const runId = Date.now().toString(36);
  const csvField = (value: string) => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
  const importLines = ['sku,category,name,description,price_cents,stock,active'];
  const copyLines = ['sku,category_id,name,description,price_cents,stock,active'];
  let n = 0;
  for (const product of productRows(rows, 777)) {
    n += 1;
    const common = [
      csvField(product.name),
      csvField(product.description),
      product.priceCents,
      product.stock,
      product.active,
    ];
    importLines.push([`BENCH-IMP-${runId}-${n}`, slugs.get(product.categoryId) ?? '', ...common].join(','));
    copyLines.push([`BENCH-CPY-${runId}-${n}`, product.categoryId, ...common].join(','));
  }
  const copyPath = join(context.workDir, 'copy.csv');
  await writeFile(copyPath, copyLines.join('\n') + '\n');
  return { importBody: Buffer.from(importLines.join('\n') + '\n'), copyPath };
}

interface ImportStatus {
  status: string;
  rowsApplied: number;
  rowsFailed: number;
  error?: string;
}

/** POSTs the CSV to /api/v1/admin/imports and polls its status until completed; rows applied and seconds taken. */
async function importThroughApi(context: BenchContext, body: Buffer): Promise<Timed & { failed: number }> {
  const { env, stack } = context;
  const auth = { ...context.edgeHeaders, Authorization: `Bearer ${stack.env.DEV_ADMIN_TOKEN ?? ''}` };
  const profile = startCpuProfile(env.roles, env.cores);
  const started = performance.now();
  const posted = await fetch(`${stack.nginxUrl}/api/v1/admin/imports`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'text/csv' },
    body,
  });
  const accepted = (await posted.json()) as { id?: string };
  if (posted.status !== 202 || !accepted.id)
    throw new Error(`import upload answered ${posted.status}: ${JSON.stringify(accepted)}`);
  let status: ImportStatus;
  for (;;) {
    const response = await fetch(`${stack.nginxUrl}/api/v1/admin/imports/${accepted.id}`, { headers: auth });
    status = (await response.json()) as ImportStatus;
    if (status.status === 'completed' || status.status === 'failed') break;
    if (performance.now() - started > 600_000) throw new Error('import did not complete within 10 minutes');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = profile.stop();
  if (status.status !== 'completed') throw new Error(`import failed: ${status.error ?? 'unknown'}`);
  env.log(`  import: ${status.rowsApplied} rows in ${seconds.toFixed(1)} s (${status.rowsFailed} failed)`);
  return { rows: status.rowsApplied, failed: status.rowsFailed, seconds, cpu };
}

async function copyWithPsql(context: BenchContext, path: string): Promise<Omit<Timed, 'rows'>> {
  const profile = startCpuProfile(context.env.roles, context.env.cores);
  const started = performance.now();
  await copyProductsCsv(context.databaseUrl, path);
  const seconds = (performance.now() - started) / 1000;
  return { seconds, cpu: profile.stop() };
}
