/** Order creations through nginx and the api / pgbench running the same transaction's SQL (bench/pgbench/order.sql). */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../load-tests/native/paths.ts';
import { percentile } from '../../load-tests/native/stats.ts';
import { luaString, threadsLua } from '../../load-tests/native/wrk.ts';
import type { BenchContext } from '../lib/context.ts';
import { startCpuProfile } from '../lib/cpu.ts';
import { LOADTEST_CUSTOMERS, loadtestUserIds } from '../lib/data.ts';
import { measureWrk, r2, type Figures, type Measured } from '../lib/measure.ts';
import { ratioKey, throughputLimit } from '../lib/verdict.ts';
import type { BenchmarkKey } from './key.ts';

const run = promisify(execFile);

export const ordersVsPgbench: BenchmarkKey = {
  name: 'orders_vs_pgbench',
  title: 'Order creations / pgbench running the same SQL',
  unit: 'orders/s',
  catalogs: 'large',
  async measure(context) {
    const { env, settings, stack } = context;
    const orderProducts = context.catalog.orderProducts();
    const users = await loadtestUserIds(context.databaseUrl);
    const lua = orderLua(context.tokens, orderProducts, context.loadtestKey);
    const wrk = { ...context.wrk, url: stack.nginxUrl, lua };
    let bestStack: Measured<unknown> | undefined;
    for (const connections of settings.order_connections) {
      const name = `orders-stack-c${connections}`;
      const measured = await measureWrk(env, { ...wrk, connections, seconds: settings.order_seconds, name }, 1);
      if (!bestStack || measured.figures.req_per_s > bestStack.figures.req_per_s) bestStack = measured;
    }
    let bestPg: Measured<unknown> | undefined;
    for (const clients of settings.pgbench_clients) {
      const measured = await pgbenchOrders(context, clients, users);
      if (!bestPg || measured.figures.req_per_s > bestPg.figures.req_per_s) bestPg = measured;
    }
    const key = ratioKey(
      { op: '>=', value: 0.5 },
      bestStack,
      bestPg,
      bestStack && bestPg ? bestStack.figures.req_per_s / bestPg.figures.req_per_s : null,
      `order creations per second: POST /api/v1/orders (one item, quantity 1, a new Idempotency-Key each, ` +
        `${LOADTEST_CUSTOMERS} customers, ${settings.order_products} products) with wrk through nginx, best of ` +
        `${settings.order_connections.join('/')} connections / pgbench running the same transaction's SQL ` +
        `(bench/pgbench/order.sql), best of ${settings.pgbench_clients.join('/')} clients; ${settings.order_seconds} s each.`,
      () =>
        throughputLimit('stack', (bestStack as Measured<unknown>).cpu) +
        '. ' +
        throughputLimit('pgbench', (bestPg as Measured<unknown>).cpu),
    );
    await context.explainWithProfile(key, 'api', () =>
      measureWrk(env, { ...wrk, connections: 64, seconds: 4, name: 'orders-stack-profiled' }, 0),
    );
    return key;
  },
};

function orderLua(tokens: readonly string[], productIds: readonly number[], loadtestKey: string): string {
  const runId = randomBytes(4).toString('hex');
  return `
local tokens = { ${tokens.map(luaString).join(', ')} }
local products = { ${productIds.join(', ')} }
local counter = 0
${threadsLua(17)}
request = function()
  counter = counter + 1
  local body = '{"items":[{"productId":' .. products[math.random(#products)] .. ',"quantity":1}]}'
  return wrk.format("POST", "/api/v1/orders", {
    ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-${runId}-" .. thread_id .. "-" .. counter,
    ["X-Loadtest-Key"] = ${luaString(loadtestKey)},
  }, body)
end
`;
}

/** pgbench with bench/pgbench/order.sql at `clients` connections; latencies from its per-transaction log. */
async function pgbenchOrders(
  context: BenchContext,
  clients: number,
  users: { first: number; last: number },
): Promise<Measured<unknown>> {
  const { env, settings } = context;
  const logDir = join(context.workDir, `pgbench-c${clients}`);
  await rm(logDir, { recursive: true, force: true });
  await mkdir(logDir, { recursive: true });
  const args = (seconds: number, log: boolean) => [
    ...['-n', '-M', 'extended', '-f', join(repoRoot, 'bench', 'pgbench', 'order.sql')],
    ...['-D', `first_user=${users.first}`, '-D', `last_user=${users.last}`],
    ...['-D', `order_products=${settings.order_products}`],
    ...['-c', String(clients), '-j', '2', '-T', String(seconds)],
    ...(log ? ['-l', '--log-prefix', join(logDir, 'tx')] : []),
    context.databaseUrl,
  ];
  const seconds = settings.order_seconds;
  // Warm-up run, not recorded.
  await run('pgbench', args(2, false), { maxBuffer: 16 * 1024 * 1024 });
  const profile = startCpuProfile(env.roles, env.cores);
  const { stdout } = await run('pgbench', args(seconds, true), {
    maxBuffer: 16 * 1024 * 1024,
    timeout: (seconds + 60) * 1000,
  });
  const cpu = profile.stop();
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1] ?? 0);
  const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
  const latencies: number[] = [];
  for (const file of await readdir(logDir)) {
    for (const line of (await readFile(join(logDir, file), 'utf8')).split('\n')) {
      const fields = line.split(' ');
      if (fields.length >= 3 && fields[2] !== undefined) latencies.push(Number(fields[2]) / 1000);
    }
  }
  latencies.sort((a, b) => a - b);
  await rm(logDir, { recursive: true, force: true });
  const transactions = latencies.length;
  const figures: Figures = {
    req_per_s: Math.round(tps),
    p50_ms: r2(percentile(latencies, 50)),
    p95_ms: r2(percentile(latencies, 95)),
    p99_ms: r2(percentile(latencies, 99)),
    max_ms: r2(latencies[latencies.length - 1] ?? 0),
    errors: transactions + failed === 0 ? 1 : Number((failed / (transactions + failed)).toPrecision(3)),
    requests: transactions,
  };
  env.log(`  pgbench-c${clients}: ${figures.req_per_s} orders/s, p50 ${figures.p50_ms} ms, p99 ${figures.p99_ms} ms`);
  return { figures, detail: { clients }, cpu };
}
