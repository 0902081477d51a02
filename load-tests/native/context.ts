/** What a native run works with, and the requests it draws from the workload's mix. */
import { createPlanner, createRandom, seedFrom } from '../lib/workload-core.js';
import type { PlannedRequest, RequestSpec, Workload, WorkloadData } from '../lib/workload-core.js';

export interface RunContext {
  workload: Workload;
  data: WorkloadData;
  baseUrl: string;
  /** Sent with every request (the load-test key that lifts nginx's rate limit for this run only). */
  headers: Record<string, string>;
  /** Unique per run: part of every idempotency key. */
  runId: string;
  workDir: string;
  /** Seed of the request draws (default: seedFrom(undefined), as in k6 without LOADTEST_SEED). */
  seed?: number;
  /**
   * Requests per second sent with full response bodies, for the content checks; the rest of an open stage keeps
   * no bodies (cheaper for the machine that is also serving them). Every request is checked when the stage's
   * rate is at most this.
   */
  checkRate?: number;
  timeoutSeconds?: number;
  /** Request types outside workload.json that planned requests may carry (the benchmark's own probes). */
  extraTypes?: Record<string, RequestSpec>;
  /** Keep vegeta's targets and binary results in workDir (default: deleted once read). */
  keepRaw?: boolean;
  log?: (line: string) => void;
}

/** The run's requests, drawn by weight from the mix, in lists that continue one sequence of idempotency keys. */
export interface RequestDraws {
  /** The run's seed (context.seed or the default). */
  readonly seed: number;
  /** The next `count` requests: drawn with seed + (requests drawn so far), so a run is the same every time. */
  next(count: number): PlannedRequest[];
}

export function createRequestDraws(context: RunContext): RequestDraws {
  const planner = createPlanner(context.workload, context.data);
  const seed = context.seed ?? seedFrom(undefined);
  let sequence = 0;
  return {
    seed,
    next(count) {
      const random = createRandom(seed + sequence);
      const requests: PlannedRequest[] = [];
      for (let i = 0; i < count; i += 1) {
        const type = planner.pickType(random);
        const options = { runId: context.runId, sequence: sequence + i, extraHeaders: context.headers };
        requests.push(planner.plan(type, random, options));
      }
      sequence += count;
      return requests;
    },
  };
}
