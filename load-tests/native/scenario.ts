/**
 * Runs the workload natively: open-model stages with vegeta (open-model.ts), closed-model phases with wrk
 * (closed-model.ts), then judges the run against workload.json's thresholds (checks.ts), as k6 does in the container,
 * and assembles the report.
 */
import { createPlanner } from '../lib/workload-core.js';
import type { Phase } from '../lib/workload-core.js';
import { createRequestDraws, type RunContext } from './context.ts';
import { judge, summarizeByType, type ThresholdResult, type TypeCollector, type TypeSummary } from './checks.ts';
import { runClosedPhase } from './closed-model.ts';
import { runOpenStage, type StageMeasurement } from './open-model.ts';
import type { WrkResult } from './wrk.ts';

// The benchmark (bench/) sends its own request lists through the same open-model stage.
export type { RunContext } from './context.ts';
export { runPlanned, type StageMeasurement } from './open-model.ts';

export interface ScenarioReport {
  scenario: string;
  description: string;
  thresholdProfile: string;
  baseUrl: string;
  startedAt: string;
  seconds: number;
  data: {
    categories: number;
    cursors: number;
    products: number;
    orderProducts: number;
    customers: number;
    orders: number;
  };
  /** Request types the discovered data could not serve (they were left out of the mix). */
  missingTypes: string[];
  phases: (
    | { name: string; model: 'open'; stages: StageMeasurement[] }
    | { name: string; model: 'closed'; vus: number; thinkTimeMs: number; result: WrkResult }
  )[];
  byType: Record<string, TypeSummary>;
  thresholds: ThresholdResult[];
  passed: boolean;
}

export interface ScenarioOptions {
  /** Multiplies every stage and phase duration (e.g. 0.25 for a quick look). */
  durationScale?: number;
  /** Multiplies every arrival rate and user count. */
  rateScale?: number;
}

/**
 * Runs a scenario's phases one after the other and judges the whole run: per-type thresholds over every open-model
 * sample, closed-model phases as a whole, and a failed verdict for request types the data could not serve.
 */
export async function runScenario(
  context: RunContext,
  scenarioName: string,
  options: ScenarioOptions = {},
): Promise<ScenarioReport> {
  const scenario = context.workload.scenarios[scenarioName];
  if (!scenario) {
    throw new Error(`unknown scenario ${scenarioName}; one of: ${Object.keys(context.workload.scenarios).join(', ')}`);
  }
  const started = Date.now();
  const { missing } = createPlanner(context.workload, context.data);
  const { phases, run, openSeconds } = await runPhases(context, scenario.phases, options);
  const byType = summarizeByType(run, openSeconds);
  const closed = phases.flatMap((phase) =>
    phase.model === 'closed' ? [{ name: phase.name, result: phase.result }] : [],
  );
  const thresholds = judge(context.workload, scenario.thresholds, byType, closed);
  if (missing.length > 0) {
    const metric = `request types without data: ${missing.join(', ')}`;
    thresholds.push({ metric, limit: 'none', actual: missing.length, ok: false });
  }
  const data = context.data;
  return {
    scenario: scenarioName,
    description: scenario.description,
    thresholdProfile: scenario.thresholds,
    baseUrl: context.baseUrl,
    startedAt: new Date(started).toISOString(),
    seconds: Math.round((Date.now() - started) / 100) / 10,
    data: {
      categories: data.categories.length,
      cursors: data.cursors.length,
      products: data.productIds.length,
      orderProducts: data.orderProductIds.length,
      customers: data.customers.length,
      orders: data.customers.reduce((sum, customer) => sum + customer.orderIds.length, 0),
    },
    missingTypes: missing,
    phases,
    byType,
    thresholds,
    passed: thresholds.every((threshold) => threshold.ok),
  };
}

/** The phases with their rates, user counts and durations scaled; open-model samples collected per type for the run. */
async function runPhases(context: RunContext, phases: readonly Phase[], options: ScenarioOptions) {
  const durationScale = options.durationScale ?? 1;
  const rateScale = options.rateScale ?? 1;
  const scaled = (value: number, scale: number) => Math.max(1, Math.round(value * scale));
  const draws = createRequestDraws(context);
  const run = new Map<string, TypeCollector>();
  const measured: ScenarioReport['phases'] = [];
  let openSeconds = 0;
  for (const phase of phases) {
    if (phase.model === 'open') {
      const stages: StageMeasurement[] = [];
      for (const [index, stage] of phase.stages.entries()) {
        const seconds = scaled(stage.seconds, durationScale);
        const rate = scaled(stage.rate, rateScale);
        openSeconds += seconds;
        stages.push(await runOpenStage(context, draws, { name: `${phase.name}-${index + 1}`, rate, seconds }, run));
      }
      measured.push({ name: phase.name, model: 'open', stages });
    } else {
      const vus = scaled(phase.vus, rateScale);
      const seconds = scaled(phase.seconds, durationScale);
      const result = await runClosedPhase(context, draws, { ...phase, vus, seconds });
      measured.push({ name: phase.name, model: 'closed', vus, thinkTimeMs: phase.thinkTimeMs, result });
    }
  }
  return { phases: measured, run, openSeconds };
}
