/**
 * The native stack from the command line (what `make native-up`, `make native-down` and `make native-status` run):
 *
 *   node tools/stack/native/cli.ts up                 Postgres, redis-cache, redis-queue, API x $API, worker x $WORKERS,
 *                                                     nginx; prints nginx's URL on stdout
 *   node tools/stack/native/cli.ts down [--purge]     stop exactly what `up` started; --purge (or NATIVE_PURGE=1)
 *                                                     deletes the folder
 *   node tools/stack/native/cli.ts status             each process, its PID and whether it is alive (exit 1 if one is down)
 *   node tools/stack/native/cli.ts stop NAME [SIG]    stop one process (default: TERM, wait, then KILL; postgres:
 *                                                     pg_ctl -m fast); STOP/CONT freeze and thaw it
 *   node tools/stack/native/cli.ts start NAME         start it again on the same port and wait until it is ready
 *   node tools/stack/native/cli.ts env                print the path of stack.env (ports, URLs, secrets)
 *   node tools/stack/native/cli.ts run CMD [ARG...]   run a command with the settings the stack's Node processes get
 *                                                     (database, both Redis, pepper, pool), e.g. the migrations
 *   NAME is one of: postgres redis-cache redis-queue api-<i> worker-<i> nginx
 *
 * Environment for `up` (defaults in brackets):
 *   API [2], WORKERS [1]       replica counts
 *   NATIVE_DIR [.native]       state folder; a relative path is taken from the repository root
 *   NATIVE_SEED [1]            1: seed once per cluster (SEED_PRODUCTS [10000]); force: seed again; 0: no seed
 *   NATIVE_FAST [0]            1: Postgres with fsync, synchronous_commit and full_page_writes off (throwaway runs)
 *   NATIVE_BUILD [1]           0: skip `npm run build`
 *   NATIVE_TIMEOUT [90]        seconds to wait for each readiness stage
 *   NATIVE_STOP_TIMEOUT [20]   seconds a process gets to exit after SIGTERM before SIGKILL
 *   NATIVE_KEEP_ON_FAIL [0]    1: leave the processes running when `up` fails (for debugging)
 *   PG_POOL_MAX                per-process pool size [from the connection budget in plan.ts]
 *   NATIVE_PG_MAX_CONNECTIONS [200]   Postgres' max_connections (the budget in plan.ts is checked against it)
 *   NATIVE_API_MAIN, NATIVE_WORKER_MAIN, NATIVE_MIGRATE_MAIN, NATIVE_SEED_MAIN   entry points [*\/dist/...]
 * Settings the stack does not generate (LOG_LEVEL, SHUTDOWN_TIMEOUT_MS, WORKER_CONCURRENCY...) are inherited from
 * the environment of whoever runs `up` or `start`.
 */
import { spawn } from 'node:child_process';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { readStackEnv, stackEnvPath, type StackEnv } from './env.ts';
import { nodeEnvironment } from './services.ts';
import { NativeStackError } from './log.ts';
import { NativeStack, type UpOptions } from './native-stack.ts';
import type { Signal } from './processes.ts';

export const repoRoot = join(import.meta.dirname, '..', '..', '..');

/** The stack folder named by NATIVE_DIR (default `.native`), absolute. */
export function nativeDirFromEnvironment(environment = process.env): string {
  const dir = environment.NATIVE_DIR || '.native';
  return (isAbsolute(dir) ? dir : join(repoRoot, dir)).replace(/\/+$/, '');
}

const flag = z.enum(['0', '1']).transform((value) => value === '1');
const seconds = z.coerce.number().int().positive();

/** The `up` settings from the environment, checked once; a wrong value stops before anything starts. */
const upEnvironment = z.object({
  API: z.coerce.number().int().min(1).default(2),
  WORKERS: z.coerce.number().int().min(0).default(1),
  NATIVE_SEED: z.enum(['0', '1', 'force']).default('1'),
  SEED_PRODUCTS: z.coerce.number().int().min(0).default(10_000),
  NATIVE_FAST: flag.default(false),
  NATIVE_BUILD: flag.default(true),
  NATIVE_TIMEOUT: seconds.default(90),
  NATIVE_STOP_TIMEOUT: seconds.default(20),
  NATIVE_KEEP_ON_FAIL: flag.default(false),
  PG_POOL_MAX: z.coerce.number().int().min(2).optional(),
  // Postgres' max_connections (default 200; tools/stack/native/plan.ts checks the budget against it).
  NATIVE_PG_MAX_CONNECTIONS: z.coerce.number().int().min(20).max(10_000).optional(),
  NATIVE_API_MAIN: z.string().default('api/dist/main.js'),
  NATIVE_WORKER_MAIN: z.string().default('worker/dist/main.js'),
  NATIVE_MIGRATE_MAIN: z.string().default('core/dist/cli/migrate.js'),
  NATIVE_SEED_MAIN: z.string().default('core/dist/cli/seed.js'),
});

const fromRepo = (path: string) => (isAbsolute(path) ? path : join(repoRoot, path));

/** A native stack and its `up` options, both from the environment (the CLI, the tests and the benchmark agree). */
export function stackFromEnvironment(environment: NodeJS.ProcessEnv = process.env): {
  stack: NativeStack;
  options: UpOptions;
} {
  const parsed = upEnvironment.safeParse(
    Object.fromEntries(Object.entries(environment).filter(([, value]) => value !== undefined && value !== '')),
  );
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new NativeStackError(`native stack settings: ${problems}`);
  }
  const settings = parsed.data;
  const stack = new NativeStack(nativeDirFromEnvironment(environment), repoRoot);
  stack.timeoutSeconds = settings.NATIVE_TIMEOUT;
  stack.stopTimeoutSeconds = settings.NATIVE_STOP_TIMEOUT;
  const seed = ({ '0': 'none', '1': 'once', force: 'force' } as const)[settings.NATIVE_SEED];
  return {
    stack,
    options: {
      api: settings.API,
      workers: settings.WORKERS,
      seed,
      seedProducts: settings.SEED_PRODUCTS,
      fast: settings.NATIVE_FAST,
      build: settings.NATIVE_BUILD,
      ...(settings.PG_POOL_MAX === undefined ? {} : { poolMax: settings.PG_POOL_MAX }),
      ...(settings.NATIVE_PG_MAX_CONNECTIONS === undefined
        ? {}
        : { pgMaxConnections: settings.NATIVE_PG_MAX_CONNECTIONS }),
      keepOnFail: settings.NATIVE_KEEP_ON_FAIL,
      mains: {
        api: fromRepo(settings.NATIVE_API_MAIN),
        worker: fromRepo(settings.NATIVE_WORKER_MAIN),
        migrate: fromRepo(settings.NATIVE_MIGRATE_MAIN),
        seed: fromRepo(settings.NATIVE_SEED_MAIN),
      },
    },
  };
}

/** TERM, SIGTERM, term, 15... as a Node signal name. */
export function signalName(value: string): Signal {
  const numbers: Record<string, string> = { '2': 'INT', '3': 'QUIT', '9': 'KILL', '15': 'TERM' };
  const name = `SIG${(numbers[value] ?? value).toUpperCase().replace(/^SIG/, '')}`;
  const known = ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGKILL', 'SIGSTOP', 'SIGCONT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];
  if (!known.includes(name)) throw new NativeStackError(`unknown signal '${value}'`);
  return name as Signal;
}

/**
 * Runs a command with the stack's Node settings (and its development tokens, which the seed writes) on top of this
 * environment; resolves with its exit code.
 */
function runWithStackEnvironment(env: StackEnv, command: string, args: string[]): Promise<number> {
  const base = nodeEnvironment(env);
  const tokens = { DEV_ADMIN_TOKEN: env.secrets.devAdminToken, DEV_CUSTOMER_TOKEN: env.secrets.devCustomerToken };
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...base.env, ...tokens };
  for (const key of base.unset) delete childEnv[key];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, env: childEnv, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const { stack, options } = stackFromEnvironment();
  switch (command) {
    case 'up': {
      const env = await stack.up(options);
      console.log(env.nginx.url);
      return 0;
    }
    case 'down':
      await stack.down(args[0] === '--purge' || process.env.NATIVE_PURGE === '1');
      return 0;
    case 'status': {
      const rows = stack.status();
      console.log(`${'NAME'.padEnd(12)} ${'PID'.padEnd(8)} ${'STATE'.padEnd(6)} ADDRESS`);
      for (const row of rows) {
        const state = row.pid === undefined ? 'down' : 'up';
        console.log(`${row.name.padEnd(12)} ${String(row.pid ?? '-').padEnd(8)} ${state.padEnd(6)} ${row.address}`);
      }
      console.log(`nginx: ${stack.env.nginx.url}  env: ${stackEnvPath(stack.dir)}`);
      return rows.every((row) => row.pid !== undefined) ? 0 : 1;
    }
    case 'start':
      if (!args[0]) throw new NativeStackError('usage: start NAME');
      await stack.start(args[0]);
      return 0;
    case 'stop':
      if (!args[0]) throw new NativeStackError('usage: stop NAME [SIGNAL]');
      await stack.stop(args[0], args[1] ? signalName(args[1]) : undefined);
      return 0;
    case 'run':
      if (!args[0]) throw new NativeStackError('usage: run COMMAND [ARG...]');
      return runWithStackEnvironment(stack.env, args[0], args.slice(1));
    case 'env':
      console.log(stackEnvPath(stack.dir));
      readStackEnv(stack.dir); // throws, after printing the path, when there is none yet
      return 0;
    default:
      process.stderr.write(
        `usage: node tools/stack/native/cli.ts up|down [--purge]|status|start NAME|stop NAME [SIG]|run CMD...|env\n`,
      );
      return 2;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`[native] ERROR: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
