/**
 * The fault scheduler: one fault after another, at fixed intervals, through the Stack interface (the same names
 * and actions in every mode: tools/stack/stack.ts). Each fault is injected, held, and undone (the service started
 * again and waited for until healthy); its window runs from the injection to `graceSeconds` after the service is
 * back, and the time from then to the next fault is its "after recovery" window.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Stack } from '../stack/stack.ts';
import type { Receiver } from './receiver.ts';
import { WORKER } from './setup.ts';

export const FAULT_KINDS = ['api-kill', 'api-term', 'worker-kill', 'cache-redis', 'queue-redis', 'postgres'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultWindow {
  kind: FaultKind;
  /** What was done, e.g. "SIGKILL api-1, restarted". */
  label: string;
  startMs: number;
  /** When the service was healthy again. */
  restoredMs: number;
  /** End of the fault's window (restoredMs + grace). */
  endMs: number;
  /** worker-kill: whether a delivery was in flight at the receiver when the worker died. */
  midJob?: boolean;
}

export interface FaultPlan {
  /** Load before the first fault. */
  baselineSeconds: number;
  /** From one fault's injection to the next one's. */
  cycleSeconds: number;
  /** How long a fault is held before it is undone. */
  holdSeconds: number;
  /** After the service is back, still counted as the fault (pools reconnect, nginx's fail_timeout runs out). */
  graceSeconds: number;
  /** No fault starts later than this many seconds after the load started. */
  totalSeconds: number;
  /** Settings the api replicas and the worker are started with again. */
  processEnv: Record<string, string>;
}

interface Injected {
  label: string;
  /** When the fault itself happened, if later than the window's start (the worker kill waits for a delivery). */
  atMs?: number;
  midJob?: boolean;
  undo: () => Promise<void>;
}

async function inject(kind: FaultKind, round: number, stack: Stack, plan: FaultPlan, receiver: Receiver) {
  const apis = stack.addresses().apiNames;
  const api = (offset: number) => apis[(round + offset) % apis.length] as string;
  const restart =
    (name: string, env: Record<string, string> = {}) =>
    () =>
      stack.start(name, env);
  switch (kind) {
    case 'api-kill': {
      const target = api(0);
      await stack.stop(target, 'SIGKILL');
      return { label: `SIGKILL ${target}, restarted`, undo: restart(target, plan.processEnv) } satisfies Injected;
    }
    case 'api-term': {
      const target = api(1);
      await stack.stop(target, 'SIGTERM');
      return { label: `SIGTERM ${target} (drain), restarted`, undo: restart(target, plan.processEnv) };
    }
    case 'worker-kill': {
      // Mid-job: wait (a few seconds at most) until a delivery is in flight at the receiver.
      const deadline = Date.now() + 5_000;
      while (receiver.inFlight() === 0 && Date.now() < deadline) await sleep(5);
      const midJob = receiver.inFlight() > 0;
      const atMs = Date.now();
      await stack.stop(WORKER, 'SIGKILL');
      return { label: `SIGKILL ${WORKER}, restarted`, atMs, midJob, undo: restart(WORKER, plan.processEnv) };
    }
    case 'cache-redis':
    case 'queue-redis': {
      const target = kind === 'cache-redis' ? 'redis-cache' : 'redis-queue';
      await stack.stop(target);
      return { label: `${target} stopped ${plan.holdSeconds} s, started`, undo: restart(target) };
    }
    case 'postgres':
      // The default stop is Postgres' fast shutdown (pg_ctl -m fast; docker stop sends the image's SIGINT): a
      // restart. SIGTERM would be its smart shutdown, which waits for every pooled connection to close.
      await stack.stop('postgres');
      return { label: `postgres stopped ${plan.holdSeconds} s, started`, undo: restart('postgres') };
  }
}

/**
 * Runs faults from `loadStartMs` on until the next would start after plan.totalSeconds (every kind at least once
 * when the plan allows it); `log` is told of each. A fault that cannot be undone stops the run with its error.
 */
export async function runFaults(
  stack: Stack,
  plan: FaultPlan,
  receiver: Receiver,
  loadStartMs: number,
  log: (line: string) => void,
): Promise<FaultWindow[]> {
  const windows: FaultWindow[] = [];
  for (let index = 0; ; index += 1) {
    const startAt = loadStartMs + (plan.baselineSeconds + index * plan.cycleSeconds) * 1000;
    if (startAt + plan.cycleSeconds * 1000 > loadStartMs + plan.totalSeconds * 1000) break;
    await sleep(Math.max(0, startAt - Date.now()));
    const kind = FAULT_KINDS[index % FAULT_KINDS.length] as FaultKind;
    const round = Math.floor(index / FAULT_KINDS.length);
    const injected = await inject(kind, round, stack, plan, receiver);
    const startMs = injected.atMs ?? startAt;
    await sleep(Math.max(0, startMs + plan.holdSeconds * 1000 - Date.now()));
    await injected.undo();
    const restoredMs = Date.now();
    const window: FaultWindow = {
      kind,
      label: injected.label,
      startMs,
      restoredMs,
      endMs: restoredMs + plan.graceSeconds * 1000,
      ...(injected.midJob === undefined ? {} : { midJob: injected.midJob }),
    };
    windows.push(window);
    const seconds = ((restoredMs - startMs) / 1000).toFixed(1);
    const clock = new Date(startMs).toISOString().slice(11, 23);
    const offset = ((startMs - loadStartMs) / 1000).toFixed(1).padStart(6);
    log(`${offset} s (${clock})  ${injected.label} (back after ${seconds} s)`);
  }
  return windows;
}

/** The plan for a run of `seconds`: short runs (make test) cycle every 15 s, long ones every 25 s. */
export function planFor(seconds: number, processEnv: Record<string, string>): FaultPlan {
  const cycleSeconds = seconds >= 300 ? 25 : 15;
  return {
    baselineSeconds: 5,
    cycleSeconds,
    holdSeconds: Math.max(3, Math.round(cycleSeconds * 0.25)),
    graceSeconds: 3,
    totalSeconds: seconds,
    processEnv,
  };
}
