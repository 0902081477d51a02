// Runs a k6 scenario script (load-tests/<scenario>.js) under the stand-in: options are built, setup() discovers data
// through the API, ITERATIONS iterations of openModel and closedModel send requests and check them, and
// handleSummary() renders. Prints one JSON line with what happened. Node with --import ./register.mjs.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { recorded as checks } from './k6.mjs';
import { recorded as http } from './http.mjs';

const script = resolve(process.argv[2]);
const iterations = Number(process.env.ITERATIONS ?? 200);
globalThis.__ENV = { ...process.env };
globalThis.open = (path) => readFileSync(resolve(dirname(script), path), 'utf8');

const module = await import(pathToFileURL(script).href);
if (process.env.OPTIONS_ONLY === '1') {
  console.log(JSON.stringify({ options: module.options, exports: Object.keys(module).sort() }));
  process.exit(0);
}
// The draws are seeded (LOADTEST_SEED), so a fixed number of iterations covers every request type every time.
const setupData = module.setup();
const setupRequests = http.requests.length;
for (let i = 0; i < iterations; i += 1) (i % 2 === 0 ? module.openModel : module.closedModel)(setupData);

const byType = {};
for (const request of http.requests.slice(setupRequests)) {
  const type = request.tags.type ?? 'untagged';
  byType[type] ??= { requests: 0, failed: 0, statuses: {} };
  byType[type].requests += 1;
  if (request.failed) byType[type].failed += 1;
  byType[type].statuses[request.status] = (byType[type].statuses[request.status] ?? 0) + 1;
}
// A summary in k6's shape, enough for handleSummary: per-type duration and failure metrics with threshold verdicts.
const metrics = {};
for (const [type, stats] of Object.entries(byType)) {
  metrics[`http_req_duration{type:${type}}`] = {
    values: { med: 1, 'p(95)': 2, 'p(99)': 3, max: 4 },
    thresholds: { 'p(95)<500': { ok: true } },
  };
  metrics[`http_req_failed{type:${type}}`] = {
    values: { rate: stats.failed / stats.requests, passes: stats.failed, fails: stats.requests - stats.failed },
    thresholds: { 'rate<0.01': { ok: stats.failed === 0 } },
  };
}
const summary = module.handleSummary({ metrics });
console.log(
  JSON.stringify({
    options: module.options,
    exports: Object.keys(module).sort(),
    setup: {
      requests: setupRequests,
      categories: setupData.data.categories.length,
      cursors: setupData.data.cursors.length,
      products: setupData.data.productIds.length,
      orderProducts: setupData.data.orderProductIds.length,
      customers: setupData.data.customers.length,
      orders: setupData.data.customers.reduce((n, c) => n + c.orderIds.length, 0),
    },
    setupData: setupData.data,
    byType,
    failedChecks: checks.checks.filter((c) => !c.ok),
    checks: checks.checks.length,
    summaryKeys: Object.keys(summary),
    summaryText: summary.stdout,
  }),
);
