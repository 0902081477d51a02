/**
 * The workload mix (load-tests/workload.json) on the stack / on the naive architecture: the highest arrival rate each
 * holds within the latency and error budget, found by doubling then bisecting.
 */
import { join } from 'node:path';
import type { PlannedRequest } from '../../load-tests/lib/workload-core.js';
import type { RunContext, StageMeasurement } from '../../load-tests/native/scenario.ts';
import type { BenchContext } from '../lib/context.ts';
import { measureOpen, planMix, searchMaxRate, type Measured, type RateSearch } from '../lib/measure.ts';
import { startNaive } from '../lib/references.ts';
import type { BenchKey } from '../lib/results.ts';
import { ratioKey, throughputLimit } from '../lib/verdict.ts';
import type { BenchmarkKey } from './key.ts';

type Probe = (rate: number) => Promise<Measured<StageMeasurement>>;

export const mixVsNaive: BenchmarkKey = {
  name: 'mix_vs_naive',
  title: 'Mixed workload, max rate at p99 < 100 ms, < 0.1 % errors: stack / naive',
  unit: 'req/s',
  catalogs: 'large',
  async measure(context) {
    const { env, settings, stack } = context;
    const budget = { p99Ms: settings.mix_budget.p99_ms, maxErrors: settings.mix_budget.errors };
    const stackContext = await context.mixContext();
    const probes = mixProbes(context);
    env.log(`mix on the stack: highest rate with p99 < ${budget.p99Ms} ms and errors < ${budget.maxErrors * 100}%`);
    const stackProbe = probes(stackContext, 'stack', (request) => request);
    // Warm-up (JIT, pools, caches), not recorded.
    const stackWarmup = { ...stackContext, runId: `${stackContext.runId}w` };
    await measureOpen(env, stackWarmup, planMix(stackWarmup, 1_000, 5, 0), {
      name: 'mix-stack-warmup',
      rate: 100,
      seconds: 10,
    });
    const stackSearch = await searchMaxRate(stackProbe, budget, {
      start: 400,
      maxProbes: 9,
      precision: 0.1,
      ceiling: 20_000,
    });

    const pepper = stack.env.API_TOKEN_PEPPER ?? '';
    const naiveSearch = await context.withReference(
      () => startNaive(context.databaseUrl, pepper),
      async (naive) => {
        const naiveContext: RunContext = {
          ...stackContext,
          baseUrl: naive.url,
          headers: {},
          workDir: join(context.workDir, 'naive'),
        };
        const toOffset = offsetFor(stackContext);
        env.log(
          'mix on the naive reference (one Express process, pool 50, no cache, no nginx, OFFSET, single-column indexes)',
        );
        const naiveWarmup = { ...naiveContext, runId: `${naiveContext.runId}w` };
        await measureOpen(env, naiveWarmup, planMix(naiveWarmup, 50, 7, 0).map(toOffset), {
          name: 'mix-naive-warmup',
          rate: 10,
          seconds: 5,
        });
        return searchMaxRate(probes(naiveContext, 'naive', toOffset), budget, {
          start: 40,
          maxProbes: 8,
          precision: 0.1,
          ceiling: 5_000,
        });
      },
    );

    const key = mixKey(context, budget, stackSearch, naiveSearch);
    const breaking = stackSearch.failedAt?.rate;
    if (breaking) await context.explainWithProfile(key, 'api', () => stackProbe(breaking));
    return key;
  },
};

/**
 * Probes at a given rate of the mix: the same requests for the same rate on either side, `rewrite` adapting them.
 * A probe lasts long enough for about 300 requests (at most 3x the base duration), so a p99 at a low rate is not
 * just the single slowest request.
 */
function mixProbes(context: BenchContext) {
  const probeSeconds = context.settings.mix_probe_seconds;
  let sequence = 0;
  const durationAt = (rate: number) => Math.min(probeSeconds * 3, Math.max(probeSeconds, Math.ceil(300 / rate)));
  return (run: RunContext, label: string, rewrite: (request: PlannedRequest) => PlannedRequest): Probe =>
    async (rate) => {
      const seconds = durationAt(rate);
      const count = Math.ceil(rate * seconds) + 1;
      const requests = planMix(run, count, 1_000 + rate, sequence).map(rewrite);
      sequence += count;
      return measureOpen(context.env, run, requests, { name: `mix-${label}-${rate}`, rate, seconds });
    };
}

/** The naive app pages with offset=: the same page as the stack's keyset cursor, from the discovered data. */
function offsetFor(stackContext: RunContext): (request: PlannedRequest) => PlannedRequest {
  const offsets = new Map(stackContext.data.cursors.map((c) => [c.cursor, c.offset ?? 0]));
  return (request) => {
    const cursor = request.values.cursor;
    if (cursor === undefined) return request;
    const path = request.path.replace(`cursor=${encodeURIComponent(cursor)}`, `offset=${offsets.get(cursor) ?? 0}`);
    return { ...request, path };
  };
}

function mixKey(
  context: BenchContext,
  budget: { p99Ms: number; maxErrors: number },
  stackSearch: RateSearch,
  naiveSearch: RateSearch,
): BenchKey {
  const best = (search: RateSearch): Measured<unknown> | undefined => {
    const probe = search.best ?? search.failedAt;
    return probe ? { figures: probe.figures, detail: null, cpu: probe.cpu } : undefined;
  };
  // When the naive app holds the budget at no rate, not even the lowest probed one, the ratio is a lower bound:
  // stack rate / that lowest rate.
  const lowestNaive = Math.min(...naiveSearch.probes.map((p) => p.rate));
  const ratio = naiveSearch.rate > 0 ? stackSearch.rate / naiveSearch.rate : stackSearch.rate / lowestNaive;
  const key = ratioKey(
    { op: '>=', value: 10 },
    best(stackSearch),
    best(naiveSearch),
    ratio,
    `vegeta, open model, ${context.settings.mix_probe_seconds} s per probe: the workload.json mix (same requests for ` +
      `the same rate on both; the naive app gets offset= where the stack gets its cursor). Highest arrival rate with ` +
      `p99 < ${budget.p99Ms} ms and < ${budget.maxErrors * 100}% errors, found by doubling then bisecting. ` +
      `stack/reference figures are those of the best passing probe (or the first failing one when none passed).`,
    () => {
      const limit = stackSearch.failedAt;
      if (!limit) return 'stack: no failing probe (ceiling reached)';
      const slowest = slowestType(limit.byType);
      return (
        `stack breaks at ${limit.rate} req/s: p99 ${limit.figures.p99_ms} ms, errors ${limit.figures.errors}` +
        `${slowest ? `, slowest type ${slowest[0]} (p99 ${slowest[1].stats.p99Ms} ms)` : ''}; ` +
        throughputLimit('at that rate', limit.cpu)
      );
    },
  );
  key.stack_rate = stackSearch.rate;
  key.naive_rate = naiveSearch.rate;
  const probes = (search: RateSearch) =>
    search.probes.map((p) => ({ rate: p.rate, ok: p.ok, ...p.figures, cpu: p.cpu }));
  key.probes = { stack: probes(stackSearch), naive: probes(naiveSearch) };
  key.by_type_at_best = { stack: stackSearch.best?.byType ?? null, naive: naiveSearch.best?.byType ?? null };
  key.by_type_at_first_failure = {
    stack: stackSearch.failedAt?.byType ?? null,
    naive: naiveSearch.failedAt?.byType ?? null,
  };
  if (naiveSearch.rate === 0) {
    key.ratio_is_lower_bound = true;
    const slowest = slowestType(naiveSearch.failedAt?.byType ?? {});
    key.naive_note =
      `the naive reference held the budget at no probed rate, not even ${lowestNaive} req/s; the ratio is the lower ` +
      `bound stack rate / ${lowestNaive}` +
      (slowest ? `; its slowest request type was ${slowest[0]} (p99 ${slowest[1].stats.p99Ms} ms)` : '');
  }
  return key;
}

function slowestType(byType: StageMeasurement['byType']) {
  return Object.entries(byType).sort((a, b) => b[1].stats.p99Ms - a[1].stats.p99Ms)[0];
}
