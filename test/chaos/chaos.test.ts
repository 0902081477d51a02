/**
 * The short chaos run of `make test` (issue 11): tools/chaos/chaos.ts on the test stack for CHAOS_SECONDS (default
 * 100: every fault once) at half the measured capacity. It prints the per-window table and the invariants, and
 * fails on any broken invariant. `make chaos` is the ten-minute run on a stack of its own (docs/chaos.md).
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from '../../tools/chaos/chaos.ts';
import { runningStack } from '../support/stack.js';

const seconds = Number(process.env.CHAOS_SECONDS ?? 100);

describe('chaos run (short)', () => {
  it(
    'when api replicas, the worker, both Redis servers and Postgres fail one after another under load, then nothing is lost or made up',
    async () => {
      const result = await runChaos(runningStack(), {
        seconds,
        maxRate: 800,
        customers: 20,
        products: 200,
        // The test stack is shared with later files: the api and worker get their own settings back.
        restoreSettings: true,
        log: () => undefined,
      });
      console.log(`\n${result.text}\n`);
      const broken = result.invariants.filter((invariant) => !invariant.ok);
      expect(broken, result.text).toEqual([]);
    },
    (seconds + 240) * 1000,
  );
});
