/**
 * Issue 10, acceptance 5: through PgBouncer, 20 api processes at a pool of 10 (200 client connections) run the smoke
 * workload against a Postgres whose max_connections is 100, with no connection error; and the outbox relay, whose
 * LISTEN bypasses PgBouncer, still wakes on NOTIFY (an order's event is relayed long before the polling fallback).
 *
 * A native stack of its own (20 api, 1 worker), beside the test run's: its start and the runs are bounded (smoke at
 * half its length, a 6 s burst), about two minutes on two cores.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discover } from '../../load-tests/native/discover.ts';
import { prepareTokens, stackTokenSecret } from '../../load-tests/native/run.ts';
import { runScenario } from '../../load-tests/native/scenario.ts';
import { textReport } from '../../load-tests/native/report.ts';
import { loadWorkload } from '../../load-tests/native/workload-file.ts';
import { stackFromEnvironment } from '../../tools/stack/native/cli.ts';
import type { StackEnv } from '../../tools/stack/native/env.ts';
import type { NativeStack } from '../../tools/stack/native/native-stack.ts';
import { repoRoot } from '../support/stack.js';

const API_PROCESSES = 20;
const POOL = 10;
const MAX_CONNECTIONS = 100;
/** The worker's polling fallback in this stack: a relay that only polled would take this long. */
const POLL_MS = 60_000;

/** Established TCP connections accepted on a local port (its end of each, from /proc/net/tcp: state 01). */
function establishedTo(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '01').length;
}

/** Samples `probe` every 100 ms while `work` runs; returns work's result and the highest sample. */
async function peakDuring<T>(probe: () => Promise<number>, work: Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = 0;
  let done = false;
  const sampling = (async () => {
    while (!done) {
      peak = Math.max(peak, await probe());
      await sleep(100);
    }
  })();
  try {
    return { result: await work, peak };
  } finally {
    done = true;
    await sampling;
  }
}

describe(`PgBouncer: ${API_PROCESSES} api processes x pool ${POOL} against max_connections ${MAX_CONNECTIONS}`, () => {
  let stack: NativeStack;
  let env: StackEnv;
  let admin: pg.Client;
  let workDir = '';
  const headers: Record<string, string> = {};
  let tokens: string[] = [];

  beforeAll(async () => {
    const native = stackFromEnvironment({
      ...process.env,
      NATIVE_DIR: join(repoRoot, `.native-pgbouncer-${process.pid}`),
      API: String(API_PROCESSES),
      WORKERS: '1',
      PG_POOL_MAX: String(POOL),
      NATIVE_PG_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
      NATIVE_SEED: '1',
      SEED_PRODUCTS: '2000',
      NATIVE_FAST: '1',
      // The test run's global set-up has built dist/.
      NATIVE_BUILD: '0',
    });
    stack = native.stack;
    env = await stack.up(native.options);
    admin = new pg.Client({ connectionString: env.databaseAdminUrl, application_name: 'pgbouncer-budget-test' });
    await admin.connect();
    headers['X-Loadtest-Key'] = env.secrets.loadtestKey;
    const secret = stackTokenSecret(env.secrets.pepper);
    tokens = await prepareTokens(env.databaseUrl, env.secrets.pepper, secret, 20);
    workDir = await mkdtemp(join(tmpdir(), 'pgbouncer-budget-'));
  }, 240_000);

  afterAll(async () => {
    await admin?.end().catch(() => undefined);
    await stack?.down(true);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }, 120_000);

  const backends = async () =>
    Number((await admin.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity')).rows[0]?.n ?? 0);

  it('when the smoke workload runs through nginx, then every request is answered and Postgres stays under max_connections', async () => {
    const { rows } = await admin.query<{ setting: string }>(
      `SELECT setting FROM pg_settings WHERE name = 'max_connections'`,
    );
    expect(rows[0]?.setting).toBe(String(MAX_CONNECTIONS));
    expect(env.apis).toHaveLength(API_PROCESSES);
    expect(env.pg.poolMax).toBe(POOL);

    const workload = await loadWorkload();
    const data = await discover(workload, { baseUrl: env.nginx.url, headers, tokens });
    const run = runScenario(
      { workload, data, baseUrl: env.nginx.url, headers, runId: `pgb${Date.now().toString(36)}`, workDir },
      'smoke',
      { durationScale: 0.5 },
    );
    const { result: report, peak } = await peakDuring(backends, run);
    console.log(`\n${textReport(report)}\nPostgres backends at most: ${peak} of ${MAX_CONNECTIONS}\n`);

    const failures = Object.entries(report.byType).flatMap(([type, summary]) =>
      Object.entries(summary.statuses)
        .filter(([status]) => status === '0' || Number(status) >= 500)
        .map(([status, count]) => `${type}: ${count} x ${status}`),
    );
    expect(failures, 'transport errors or 5xx').toEqual([]);
    expect(report.thresholds.filter((threshold) => !threshold.ok)).toEqual([]);
    expect(peak).toBeLessThan(MAX_CONNECTIONS);
  }, 120_000);

  it('when every api process fills its pool, then PgBouncer holds the 200 client connections on at most 25 server connections', async () => {
    // 400 requests in flight for 6 s on an uncached, database-backed route: about 20 per api process, more than its pool.
    const deadline = Date.now() + 6_000;
    const statuses = new Map<number, number>();
    const client = async () => {
      for (let i = 0; Date.now() < deadline; i += 1) {
        const token = tokens[i % tokens.length] as string;
        const response = await fetch(`${env.nginx.url}/api/v1/orders?limit=5`, {
          headers: { ...headers, Authorization: `Bearer ${token}` },
        }).catch(() => undefined);
        await response?.arrayBuffer();
        const status = response?.status ?? 0;
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    const serverSide = async () =>
      Number(
        (await admin.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE usename = 'app_rw'`))
          .rows[0]?.n ?? 0,
      );
    const clients = Array.from({ length: 400 }, client);
    const [clientSide, server] = await Promise.all([
      peakDuring(async () => establishedTo(env.pgbouncer.port), Promise.all(clients)),
      peakDuring(serverSide, sleep(6_000)),
    ]);
    console.log(
      `statuses ${JSON.stringify(Object.fromEntries(statuses))}; client connections to PgBouncer at most ` +
        `${clientSide.peak}; app_rw server connections at most ${server.peak}`,
    );
    expect([...statuses.keys()]).toEqual([200]);
    // More clients than Postgres would take, on PgBouncer's 25 (plus the worker's direct LISTEN connection).
    expect(clientSide.peak).toBeGreaterThan(MAX_CONNECTIONS);
    expect(server.peak).toBeLessThanOrEqual(25 + 1);
  }, 60_000);

  it('when an order is placed, then the relay wakes on NOTIFY and publishes its event long before the poll would', async () => {
    // The worker again, polling only once a minute: what publishes the event quickly is the notification.
    await stack.stop('worker-1');
    await stack.start('worker-1', { OUTBOX_POLL_INTERVAL_MS: String(POLL_MS) });
    await sleep(1_000);
    const product = await admin.query<{ id: number }>('SELECT id FROM products WHERE active AND stock > 10 LIMIT 1');
    const started = Date.now();
    const response = await fetch(`${env.nginx.url}/api/v1/orders`, {
      method: 'POST',
      headers: {
        ...headers,
        Authorization: `Bearer ${tokens[0] as string}`,
        'Content-Type': 'application/json',
        'Idempotency-Key': `pgb-notify-${started}`,
      },
      body: JSON.stringify({ items: [{ productId: product.rows[0]?.id, quantity: 1 }] }),
    });
    expect(response.status).toBe(201);
    const order = (await response.json()) as { id: number };
    let publishedAfterMs: number | undefined;
    while (publishedAfterMs === undefined && Date.now() - started < 15_000) {
      const { rows } = await admin.query(
        `SELECT 1 FROM outbox WHERE published_at IS NOT NULL AND payload->>'orderId' = $1::text`,
        [String(order.id)],
      );
      if (rows.length > 0) publishedAfterMs = Date.now() - started;
      else await sleep(50);
    }
    console.log(`order ${order.id}: its outbox event published after ${publishedAfterMs} ms (poll: ${POLL_MS} ms)`);
    expect(publishedAfterMs).toBeDefined();
    expect(publishedAfterMs).toBeLessThan(5_000);
  }, 60_000);
});
