// k6 side of the load tests (runs in the grafana/k6 container: `make loadtest`). The workload itself - request mix,
// URL patterns, checks, thresholds, scenarios - comes from workload.json through workload-core.js, which the native
// runner (load-tests/native/) uses too, so both generate and judge the same traffic.
//
// Environment (k6 -e or container env):
//   BASE_URL               nginx as seen from the k6 container (default http://nginx:8080)
//   LOADTEST_KEY           nginx's load-test allowance key (nginx.conf "Load-test allowance"); without it the run is
//                          rate limited like any client and 429s count as errors
//   LOADTEST_TOKEN_SECRET  the secret the seed derived the load-test customers' tokens from (.env)
//   LOADTEST_CUSTOMERS     how many seeded load-test customers to act as (default 200)
//   LOADTEST_TOKENS        instead of the two above: the customers' bearer tokens, comma-separated
//   LOADTEST_CATEGORIES    browse (and order from) only these category slugs, comma-separated (default: all)
//   RATE_SCALE, DURATION_SCALE   multiply every arrival rate / user count and every duration (default 1)
//   RESULTS_DIR            where handleSummary writes <scenario>-summary.json (default /results)
import http from 'k6/http';
import exec from 'k6/execution';
import { check, sleep } from 'k6';
import {
  createPlanner,
  failedChecks,
  getPath,
  hasStock,
  limitsFor,
  loadtestToken,
  readCategories,
  readOrderIds,
  readProductPage,
  requestSpec,
  responsePaths,
  spreadSample,
} from './workload-core.js';

const number = (value, fallback) => (value === undefined || value === '' ? fallback : Number(value));

/** k6 options for one scenario of the workload: phases run one after another (startTime offsets). */
export function buildOptions(workload, scenarioName) {
  const scenario = workload.scenarios[scenarioName];
  if (!scenario) throw new Error(`unknown scenario ${scenarioName}`);
  const rateScale = number(__ENV.RATE_SCALE, 1);
  const durationScale = number(__ENV.DURATION_SCALE, 1);
  const seconds = (value) => Math.max(1, Math.round(value * durationScale));
  const scenarios = {};
  let offset = 0;
  for (const phase of scenario.phases) {
    if (phase.model === 'open') {
      // Held steps: a 2 s ramp into each stage's rate, then the rest of the stage at that rate.
      const stages = [];
      const first = Math.max(1, Math.round(phase.stages[0].rate * rateScale));
      let total = 0;
      for (const stage of phase.stages) {
        const rate = Math.max(1, Math.round(stage.rate * rateScale));
        const duration = seconds(stage.seconds);
        total += duration;
        if (duration > 4) stages.push({ target: rate, duration: '2s' }, { target: rate, duration: `${duration - 2}s` });
        else stages.push({ target: rate, duration: `${duration}s` });
      }
      const maxVUs = Math.max(10, Math.round((phase.maxVUs || 100) * rateScale));
      scenarios[phase.name] = {
        executor: 'ramping-arrival-rate',
        startRate: first,
        timeUnit: '1s',
        preAllocatedVUs: Math.min(maxVUs, Math.max(5, Math.ceil(first / 5))),
        maxVUs,
        stages,
        startTime: `${offset}s`,
        exec: 'openModel',
      };
      offset += total;
    } else {
      const duration = seconds(phase.seconds);
      scenarios[phase.name] = {
        executor: 'constant-vus',
        vus: Math.max(1, Math.round(phase.vus * rateScale)),
        duration: `${duration}s`,
        startTime: `${offset}s`,
        exec: 'closedModel',
        env: { THINK_TIME_MS: String(phase.thinkTimeMs) },
      };
      offset += duration;
    }
  }

  const { byType, checks } = limitsFor(workload, scenario.thresholds);
  const thresholds = { checks: [`rate>${checks}`] };
  for (const [type, limits] of Object.entries(byType)) {
    if (requestSpec(workload, type).weight <= 0) continue;
    thresholds[`http_req_duration{type:${type}}`] = [`p(95)<${limits.p95Ms}`, `p(99)<${limits.p99Ms}`];
    thresholds[`http_req_failed{type:${type}}`] = [`rate<${limits.errorRate}`];
  }
  return {
    scenarios,
    thresholds,
    setupTimeout: '180s',
    summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max'],
    // Tagged by request type instead of by URL: ids and cursors would make every URL its own metric.
    systemTags: ['status', 'method', 'name', 'scenario', 'expected_response', 'error_code'],
  };
}

function discoveryGet(url, headers) {
  const response = http.get(url, { headers: { Accept: 'application/json', ...headers }, tags: { name: 'setup' } });
  if (response.status !== 200) {
    throw new Error(`setup: GET ${url} answered ${response.status}: ${String(response.body).slice(0, 300)}`);
  }
  return response.json();
}

/** setup(): learns real slugs, ids, cursors, stock and order ids from the API, like load-tests/native/discover.ts. */
export function discover(workload) {
  const baseUrl = (__ENV.BASE_URL || 'http://nginx:8080').replace(/\/$/, '');
  const headers = __ENV.LOADTEST_KEY ? { 'X-Loadtest-Key': __ENV.LOADTEST_KEY } : {};
  const paths = responsePaths(workload);
  const spec = workload.data.discovery;

  let categories;
  if (__ENV.LOADTEST_CATEGORIES) {
    categories = __ENV.LOADTEST_CATEGORIES.split(',').map((slug) => ({ slug: slug.trim(), id: 0 }));
  } else {
    const categoriesBody = discoveryGet(`${baseUrl}/api/v1/categories`, headers);
    const counts = {};
    for (const item of getPath(categoriesBody, paths.items) || [])
      counts[getPath(item, paths.slug)] = getPath(item, 'productCount') || 0;
    categories = readCategories(categoriesBody, paths)
      .sort((a, b) => counts[b.slug] - counts[a.slug])
      .slice(0, spec.maxCategories);
  }

  const param = workload.data.categoryParam || 'slug';
  const productIds = [];
  const cursors = [];
  for (const category of categories) {
    const value = String(param === 'id' ? category.id : category.slug);
    let cursor = null;
    for (let page = 0; page < spec.pagesPerCategory; page += 1) {
      let url = `${baseUrl}/api/v1/products?category=${encodeURIComponent(value)}&limit=${spec.pageLimit}`;
      if (cursor) url += `&cursor=${encodeURIComponent(cursor)}`;
      const result = readProductPage(discoveryGet(url, headers), paths);
      productIds.push(...result.ids);
      if (!result.nextCursor) break;
      cursor = result.nextCursor;
      cursors.push({ category: value, cursor });
    }
  }
  const unique = [...new Set(productIds)].sort((a, b) => Number(a) - Number(b));
  const orderProductIds = spreadSample(unique, spec.orderProducts).filter((id) =>
    hasStock(discoveryGet(`${baseUrl}/api/v1/products/${id}`, headers), paths, spec.minOrderStock),
  );
  // Hot products spread over all categories: shuffle before the Zipf draw favours the first ones.
  for (let i = unique.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [unique[i], unique[j]] = [unique[j], unique[i]];
  }

  const needsCustomers = Object.values(workload.requests).some((r) => r.weight > 0 && r.auth === 'customer');
  const customers = [];
  if (needsCustomers) {
    const secret = __ENV.LOADTEST_TOKEN_SECRET;
    if (__ENV.LOADTEST_TOKENS) {
      for (const token of __ENV.LOADTEST_TOKENS.split(',')) customers.push({ token: token.trim(), orderIds: [] });
    } else if (secret) {
      const count = number(__ENV.LOADTEST_CUSTOMERS, 200);
      for (let n = 1; n <= count; n += 1) customers.push({ token: loadtestToken(secret, n), orderIds: [] });
    } else {
      throw new Error(
        'LOADTEST_TOKEN_SECRET is not set: the customers of the workload need the tokens the seed derived from it',
      );
    }
    for (const customer of customers.slice(0, spec.ordersOfCustomers)) {
      const body = discoveryGet(`${baseUrl}/api/v1/orders`, { ...headers, Authorization: `Bearer ${customer.token}` });
      customer.orderIds = readOrderIds(body, paths);
    }
  }
  return {
    baseUrl,
    headers,
    runId: `k6${Date.now().toString(36)}`,
    data: { categories, cursors, productIds: unique, orderProductIds, customers },
  };
}

let planner = null;
let sequence = 0;

/** One request drawn from the mix: sent, tagged with its type, checked. */
function oneRequest(workload, setupData) {
  if (!planner) {
    planner = createPlanner(workload, setupData.data);
    if (planner.missing.length > 0) exec.test.abort(`no data for request types: ${planner.missing.join(', ')}`);
  }
  const type = planner.pickType(Math.random);
  sequence += 1;
  const request = planner.plan(type, Math.random, {
    runId: `${setupData.runId}-${exec.vu.idInTest}`,
    sequence,
    extraHeaders: setupData.headers,
  });
  const spec = requestSpec(workload, type);
  const response = http.request(request.method, setupData.baseUrl + request.path, request.body, {
    headers: request.headers,
    tags: { type, name: type },
    responseCallback: http.expectedStatuses(...spec.expect.status),
  });
  const failures = failedChecks(spec, response.status, response.body, request.values);
  check(response, { [`${type}: expected status and content`]: () => failures.length === 0 }, { type });
}

/** Everything a scenario script exports, for one scenario of the workload. */
export function createTest(workload, scenarioName) {
  return {
    options: buildOptions(workload, scenarioName),
    setup: () => discover(workload),
    openModel: (setupData) => oneRequest(workload, setupData),
    closedModel: (setupData) => {
      oneRequest(workload, setupData);
      const think = number(__ENV.THINK_TIME_MS, 1000) / 1000;
      sleep(think * (0.5 + Math.random()));
    },
    handleSummary: (summary) => handleSummary(workload, scenarioName, summary),
  };
}

function fmt(value) {
  return value === undefined ? '-' : Number(value).toFixed(1);
}

/** <scenario>-summary.json for tools, and a per-type table with threshold verdicts for people. */
function handleSummary(workload, scenarioName, summary) {
  const dir = (__ENV.RESULTS_DIR || '/results').replace(/\/$/, '');
  const lines = [`scenario ${scenarioName}: ${workload.scenarios[scenarioName].description}`, ''];
  lines.push('type                  requests   med ms   p95 ms   p99 ms   errors');
  let failed = 0;
  for (const type of Object.keys(workload.requests)) {
    const duration = summary.metrics[`http_req_duration{type:${type}}`];
    const errors = summary.metrics[`http_req_failed{type:${type}}`];
    if (!duration) continue;
    const v = duration.values;
    const rate = errors ? errors.values.rate : 0;
    const count = errors ? errors.values.passes + errors.values.fails : 0;
    lines.push(
      `${type.padEnd(20)} ${String(count).padStart(9)} ${fmt(v.med).padStart(8)} ${fmt(v['p(95)']).padStart(8)} ` +
        `${fmt(v['p(99)']).padStart(8)} ${(rate * 100).toFixed(2).padStart(7)}%`,
    );
  }
  lines.push('', 'thresholds:');
  for (const [name, metric] of Object.entries(summary.metrics)) {
    for (const [limit, verdict] of Object.entries(metric.thresholds || {})) {
      if (!verdict.ok) failed += 1;
      lines.push(`  ${verdict.ok ? 'ok  ' : 'FAIL'} ${name} ${limit}`);
    }
  }
  lines.push('', failed === 0 ? 'all thresholds passed' : `${failed} threshold(s) FAILED`, '');
  return {
    stdout: lines.join('\n'),
    [`${dir}/${scenarioName}-summary.json`]: JSON.stringify(summary, null, 2),
  };
}
