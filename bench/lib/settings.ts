/**
 * The benchmark's options, read once from the environment (bench/README.md, "Options"), and the measurement settings
 * derived from them (recorded as `settings` in latest.json).
 */
import { isAbsolute, join } from 'node:path';
import { repoRoot } from '../../load-tests/native/paths.ts';

export interface BenchOptions {
  /** BENCH_SCALE: multiplies every measurement's duration. */
  scale: number;
  /** BENCH_ONLY: the keys to measure; empty means all. */
  only: ReadonlySet<string>;
  /** BENCH_LARGE_PRODUCTS: the large catalog's size (the keys keep their names when it is smaller). */
  largeProducts: number;
  /** BENCH_KEEP=1: leave the bench stack running. */
  keep: boolean;
  /** BENCH_NATIVE_DIR, absolute. */
  nativeDir: string;
  measurement: MeasurementSettings;
}

export type MeasurementSettings = ReturnType<typeof measurementSettings>;

export function readOptions(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const scale = Number(env.BENCH_SCALE ?? 1);
  const dirName = env.BENCH_NATIVE_DIR ?? '.native-bench';
  return {
    scale,
    only: new Set((env.BENCH_ONLY ?? '').split(',').filter(Boolean)),
    largeProducts: Number(env.BENCH_LARGE_PRODUCTS ?? 1_000_000),
    keep: env.BENCH_KEEP === '1',
    nativeDir: isAbsolute(dirName) ? dirName : join(repoRoot, dirName),
    measurement: measurementSettings(scale),
  };
}

/** True for a complete run at full length: only such a run goes into the READMEs. */
export function isCompleteRun(options: BenchOptions): boolean {
  return options.scale === 1 && options.only.size === 0 && options.largeProducts === 1_000_000;
}

function measurementSettings(scale: number) {
  const seconds = (value: number) => Math.max(2, Math.round(value * scale));
  return {
    api_processes: 2,
    workers: 1,
    wrk_connections: 64,
    wrk_threads: 2,
    wrk_seconds: seconds(10),
    mix_probe_seconds: seconds(10),
    mix_budget: { p99_ms: 100, errors: 0.001 },
    latency_rate_per_s: 25,
    latency_seconds: seconds(8),
    order_connections: [32, 64],
    pgbench_clients: [8, 16, 32],
    order_seconds: seconds(10),
    import_rows: Math.max(10_000, Math.round(100_000 * Math.min(1, scale))),
    order_products: 5_000,
  };
}
