/** The shape of one benchmark key (bench/README.md, "Adding a benchmark key"). */
import type { BenchContext } from '../lib/context.ts';
import type { BenchKey, KeyRow } from '../lib/results.ts';

export interface BenchmarkKey extends KeyRow {
  /**
   * The catalogs it measures on: `large` (BENCH_LARGE_PRODUCTS products, seeded by the runner before measure), or
   * `small-then-large` (the runner runs such a key first; it measures at 10,000 products after
   * context.catalog.useSmall(), then at the large catalog after context.catalog.useLarge()).
   */
  readonly catalogs: 'large' | 'small-then-large';
  /** Measures the stack and its reference; lib/verdict.ts's ratioKey turns the two into the result and its verdict. */
  measure(context: BenchContext): Promise<BenchKey>;
}
