/**
 * A 50 MB import through nginx to the api processes of the native stack: accepted without the api's
 * memory growing by anything near 50 MB, because the body is streamed into Postgres chunk by chunk
 * (nginx: proxy_request_buffering off for this path). Resident set size (RSS) of every api and of the
 * worker is sampled from their Prometheus endpoints (process_resident_memory_bytes) every 100 ms.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createCatalog, startWithAdmin, unique, waitFor, type TestApi } from './support.js';
import { stack } from '../support/stack.js';
import { rss, sampleRss } from './process-rss.js';

const MB = 1024 * 1024;
const FILE_BYTES = 50 * MB;

let api: TestApi;
let admin: { token: string };
let slug: string;

beforeAll(async () => {
  ({ api, admin } = await startWithAdmin());
  ({ slug } = await createCatalog(api.pool, 0));
});

afterAll(async () => {
  await api?.close();
});

/** A CSV of exactly `bytes` bytes (or a few less), generated as it is sent: rows of ~4 KB over 100 SKUs. */
function csvStream(bytes: number, prefix: string): { stream: ReadableStream<Uint8Array>; size: number; rows: number } {
  const header = 'sku,category,name,price_cents,stock,active,description\n';
  // Fixed width (two-digit keys), so the size is known before sending.
  const row = (i: number) => {
    const key = String(i % 100).padStart(2, '0');
    return `${prefix}-${key},${slug},Item ${key},1${key},1,true,${'d'.repeat(4_000)}\n`;
  };
  const rowBytes = Buffer.byteLength(row(0));
  const rows = Math.floor((bytes - header.length) / rowBytes);
  let sent = -1;
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === -1) controller.enqueue(encoder.encode(header));
      else {
        const batch: string[] = [];
        for (let i = 0; i < 64 && sent + i < rows; i += 1) batch.push(row(sent + i));
        controller.enqueue(encoder.encode(batch.join('')));
      }
      sent = sent === -1 ? 0 : sent + 64;
      if (sent >= rows) controller.close();
    },
  });
  return { stream, size: header.length + rows * rowBytes, rows };
}

interface Measured {
  sizeMiB: number;
  rows: number;
  uploadMs: number;
  processMs: number;
  apiGrowthMiB: number[];
  workerGrowthMiB: number;
}

/** Uploads a generated CSV of `bytes` through nginx, waits for the import, returns the RSS peaks over the baselines. */
async function measuredImport(bytes: number): Promise<Measured> {
  const apiMetrics = stack().apiMetricsUrls;
  const workerMetrics = stack().env.WORKER_1_METRICS_URL as string;
  const before = new Map(await Promise.all(apiMetrics.map(async (url) => [url, await rss(url)] as const)));
  const workerBefore = await rss(workerMetrics);
  const stopSampling = sampleRss([...apiMetrics, workerMetrics]);

  const { stream, size, rows } = csvStream(bytes, unique('big'));
  const started = Date.now();
  const response = await fetch(`${stack().nginxUrl}/api/v1/admin/imports`, {
    method: 'POST',
    headers: { ...bearer(admin.token), 'Content-Type': 'text/csv', 'Content-Length': String(size) },
    body: stream,
    duplex: 'half',
  } as RequestInit);
  const uploadMs = Date.now() - started;
  expect(response.status).toBe(202);
  const accepted = (await response.json()) as { fileBytes: number; links: { self: string } };
  expect(accepted.fileBytes).toBe(size);

  const done = await waitFor(
    'import done',
    async () => {
      const view = (await (
        await fetch(`${api.url}${accepted.links.self}`, { headers: bearer(admin.token) })
      ).json()) as {
        status: string;
        rowsTotal: number;
        rowsApplied: number;
      };
      return view.status === 'completed' || view.status === 'failed' ? view : undefined;
    },
    120_000,
    250,
  );
  const processMs = Date.now() - started - uploadMs;
  const peaks = await stopSampling();
  expect(done).toMatchObject({ status: 'completed', rowsTotal: rows, rowsApplied: rows });
  const measured = {
    sizeMiB: size / MB,
    rows,
    uploadMs,
    processMs,
    apiGrowthMiB: apiMetrics.map((url) => ((peaks.get(url) ?? 0) - (before.get(url) ?? 0)) / MB),
    workerGrowthMiB: ((peaks.get(workerMetrics) ?? 0) - workerBefore) / MB,
  };
  console.log(
    `import of ${measured.sizeMiB.toFixed(1)} MiB (${rows} rows): upload ${uploadMs} ms, processing ${processMs} ms; ` +
      `api RSS ${apiMetrics.map((url) => ((before.get(url) ?? 0) / MB).toFixed(1)).join(' / ')} MiB, ` +
      `peak growth ${measured.apiGrowthMiB.map((g) => g.toFixed(1)).join(' / ')} MiB; ` +
      `worker RSS ${(workerBefore / MB).toFixed(1)} MiB, peak growth ${measured.workerGrowthMiB.toFixed(1)} MiB`,
  );
  return measured;
}

describe('a 50 MB import', () => {
  it('when a 50 MB file is uploaded through nginx, then it is accepted and no api grows by anything near 50 MB', async () => {
    // A 5 MB import first, for comparison (and so that both apis have served an upload before).
    await measuredImport(5 * MB);
    const big = await measuredImport(FILE_BYTES);
    expect(big.sizeMiB).toBeGreaterThan(49.9);
    // RSS also holds garbage V8 has not collected yet; the live memory of the jobs is measured in
    // job-memory.test.ts. Half the file is far from "the file in memory" and well above the ~10 MiB seen.
    for (const growth of big.apiGrowthMiB) expect(growth).toBeLessThan(25);
  }, 240_000);
});
