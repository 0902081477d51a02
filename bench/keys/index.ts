/**
 * Every benchmark key, in the order of latest.json and of the table. The runner measures the keys on the small
 * catalog first (key.catalogs), then the others in this order.
 */
import { cachedReadVsBareNode } from './cached-read-vs-bare-node.ts';
import { hotReadVsNginxStatic } from './hot-read-vs-nginx-static.ts';
import { importVsCopy } from './import-vs-copy.ts';
import type { BenchmarkKey } from './key.ts';
import { listLatency1mVs10k } from './list-latency-1m-vs-10k.ts';
import { mixVsNaive } from './mix-vs-naive.ts';
import { ordersVsPgbench } from './orders-vs-pgbench.ts';

export const BENCHMARK_KEYS: readonly BenchmarkKey[] = [
  hotReadVsNginxStatic,
  cachedReadVsBareNode,
  mixVsNaive,
  ordersVsPgbench,
  importVsCopy,
  listLatency1mVs10k,
];
