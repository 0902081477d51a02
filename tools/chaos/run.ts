/**
 * `make chaos`: the chaos run (tools/chaos/chaos.ts) on a native stack of its own, started here (2 api replicas, one
 * worker, Postgres with fsync on) and removed afterwards. Exit code 0 when every invariant held, 1 otherwise.
 *
 * Environment (defaults in brackets):
 *   CHAOS_SECONDS [600]        seconds of load with faults (>= 90)
 *   CHAOS_RATE                 arrivals per second [half the capacity measured at the start, at most CHAOS_MAX_RATE]
 *   CHAOS_MAX_RATE [800]       the most the measured rate may give (the client is Node's fetch on the same 2 cores)
 *   CHAOS_CUSTOMERS [20], CHAOS_PRODUCTS [200]
 *   NATIVE_DIR [.native-chaos] the stack's folder; CHAOS_KEEP=1 leaves it running afterwards
 * The table and the invariants are printed and written to load-tests/results/chaos-<time>.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { repoRoot, stackFromEnvironment } from '../stack/native/cli.ts';
import { runChaos } from './chaos.ts';

const settings = z.object({
  CHAOS_SECONDS: z.coerce.number().int().min(90).default(600),
  CHAOS_RATE: z.coerce.number().int().positive().optional(),
  CHAOS_MAX_RATE: z.coerce.number().int().positive().default(800),
  CHAOS_CUSTOMERS: z.coerce.number().int().min(1).default(20),
  CHAOS_PRODUCTS: z.coerce.number().int().min(1).default(200),
  CHAOS_KEEP: z.enum(['0', '1']).default('0'),
  NATIVE_DIR: z.string().default('.native-chaos'),
});

async function main(): Promise<number> {
  const given = Object.fromEntries(
    Object.entries(process.env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const options = settings.parse(given);
  const { stack, options: up } = stackFromEnvironment({
    ...process.env,
    NATIVE_DIR: options.NATIVE_DIR,
    API: '2',
    WORKERS: '1',
    NATIVE_SEED: '0',
  });
  await stack.up(up);
  try {
    const result = await runChaos(stack, {
      seconds: options.CHAOS_SECONDS,
      ...(options.CHAOS_RATE === undefined ? {} : { rate: options.CHAOS_RATE }),
      maxRate: options.CHAOS_MAX_RATE,
      customers: options.CHAOS_CUSTOMERS,
      products: options.CHAOS_PRODUCTS,
      restoreSettings: false,
      log: (line) => console.log(line),
    });
    const out = join(repoRoot, 'load-tests', 'results');
    mkdirSync(out, { recursive: true });
    const file = join(out, `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}.md`);
    writeFileSync(file, `# make chaos, CHAOS_SECONDS=${options.CHAOS_SECONDS}\n\n${result.text}\n`);
    console.log(`\n${result.passed ? 'PASSED' : 'FAILED'}: every invariant above; written to ${file}`);
    return result.passed ? 0 : 1;
  } finally {
    if (options.CHAOS_KEEP !== '1') await stack.down(true);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  },
);
