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
//   LOADTEST_SEED          seed of the draws (hot products, request mix), as in the native runner (default 7)
//   RATE_SCALE, DURATION_SCALE   multiply every arrival rate / user count and every duration (default 1)
//   RESULTS_DIR            where handleSummary writes <scenario>-summary.json (default /results)
import http from 'k6/http';
import exec from 'k6/execution';
import { check, sleep } from 'k6';
import {
  createPlanner,
  createRandom,
  failedChecks,
  limitsFor,
  loadtestToken,
  requestSpec,
  seedFrom,
} from './workload-core.js';
import { discovery, needsCustomers } from './discovery.js';

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

/**
 * setup(): the shared discovery (discovery.js, which the native runner drives with fetch), answered
 * with k6's synchronous http.get.
 */
export function discover(workload) {
  const baseUrl = (__ENV.BASE_URL || 'http://nginx:8080').replace(/\/$/, '');
  const headers = __ENV.LOADTEST_KEY ? { 'X-Loadtest-Key': __ENV.LOADTEST_KEY } : {};
  const seed = seedFrom(__ENV.LOADTEST_SEED);
  const options = { tokens: customerTokens(workload), seed };
  if (__ENV.LOADTEST_CATEGORIES) options.categorySlugs = __ENV.LOADTEST_CATEGORIES.split(',').map((s) => s.trim());

  const get = (request) => {
    const url = baseUrl + request.path;
    const params = { headers: { Accept: 'application/json', ...headers, ...request.headers }, tags: { name: 'setup' } };
    const response = http.get(url, params);
    if (response.status !== 200) {
      throw new Error(`setup: GET ${url} answered ${response.status}: ${String(response.body).slice(0, 300)}`);
    }
    return response.json();
  };
  const steps = discovery(workload, options);
  let step = steps.next();
  while (!step.done) step = steps.next(step.value.map(get));
  return { baseUrl, headers, seed, runId: `k6${Date.now().toString(36)}`, data: step.value };
}

/** The bearer tokens of the customers the run acts as (none when no request type needs one). */
function customerTokens(workload) {
  if (!needsCustomers(workload)) return [];
  if (__ENV.LOADTEST_TOKENS) return __ENV.LOADTEST_TOKENS.split(',').map((token) => token.trim());
  const secret = __ENV.LOADTEST_TOKEN_SECRET;
  if (!secret) {
    throw new Error(
      'LOADTEST_TOKEN_SECRET is not set: the customers of the workload need the tokens the seed derived from it',
    );
  }
  const count = number(__ENV.LOADTEST_CUSTOMERS, 200);
  return Array.from({ length: count }, (_, i) => loadtestToken(secret, i + 1));
}

// Per VU (each has its own copy of this module): the planner, its draws (seeded like the native runner's, one
// stream per VU) and the sequence that makes idempotency keys unique.
let planner = null;
let random = null;
let sequence = 0;

/** One request drawn from the mix: sent, tagged with its type, checked. */
function oneRequest(workload, setupData) {
  if (!planner) {
    planner = createPlanner(workload, setupData.data);
    random = createRandom(setupData.seed + exec.vu.idInTest);
    if (planner.missing.length > 0) exec.test.abort(`no data for request types: ${planner.missing.join(', ')}`);
  }
  const type = planner.pickType(random);
  sequence += 1;
  const request = planner.plan(type, random, {
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
      sleep(think * (0.5 + random()));
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
