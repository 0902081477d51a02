/**
 * `stack.env`, the one file that says where a native stack listens and which secrets it uses. The native stack
 * writes it on `up` (tools/stack/native/plan.ts chooses the values); everything else reads it through
 * `readStackEnv`, the only parser of it. The format is `KEY=VALUE` lines without quotes, so a shell can also use it:
 * `set -a; . .native/stack.env; set +a` (that is how `make native-migrate` passes it on).
 */
import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const port = z.coerce.number().int().min(1).max(65_535);
const text = z.string().min(1);

/** The keys every stack.env has; the per-replica keys (API_<i>_PORT, WORKER_<i>_METRICS_PORT, ...) follow the counts. */
const fixedKeys = z.object({
  NATIVE_DIR: text,
  NATIVE_REPO: text,
  NATIVE_FAST: z.enum(['0', '1']),
  PGPORT: port,
  PGPASSWORD: text,
  PGDATA: text,
  PG_SOCKET_DIR: text,
  PG_MAX_CONNECTIONS: z.coerce.number().int().positive(),
  PG_POOL_MAX: z.coerce.number().int().positive(),
  APP_DB_PASSWORD: text,
  PGBOUNCER_PORT: port,
  DATABASE_URL: z.url(),
  DATABASE_ADMIN_URL: z.url(),
  APP_DATABASE_URL: z.url(),
  APP_DATABASE_DIRECT_URL: z.url(),
  REDIS_CACHE_PORT: port,
  REDIS_CACHE_PASSWORD: text,
  REDIS_CACHE_URL: z.url(),
  REDIS_QUEUE_PORT: port,
  REDIS_QUEUE_PASSWORD: text,
  REDIS_QUEUE_URL: z.url(),
  NGINX_PORT: port,
  NGINX_URL: z.url(),
  API_COUNT: z.coerce.number().int().min(1),
  WORKER_COUNT: z.coerce.number().int().min(0),
  API_TOKEN_PEPPER: z.string().min(32),
  DEV_ADMIN_TOKEN: text,
  DEV_CUSTOMER_TOKEN: text,
  LOADTEST_KEY: z.string().min(32),
});

export interface ApiProcess {
  name: string;
  port: number;
  url: string;
  metricsPort: number;
  metricsUrl: string;
}

export interface WorkerProcess {
  name: string;
  metricsPort: number;
  metricsUrl: string;
  healthUrl: string;
}

/** A parsed stack.env: the typed values, and the lines as written (`raw`) for processes that take an environment. */
export interface StackEnv {
  raw: Record<string, string>;
  dir: string;
  repo: string;
  fast: boolean;
  pg: {
    port: number;
    password: string;
    /** The password of app_rw, the role api and worker connect as (db/roles.sql). */
    appPassword: string;
    data: string;
    socketDir: string;
    maxConnections: number;
    poolMax: number;
  };
  pgbouncer: { port: number };
  /** The owner role `app`, straight to Postgres: migrations, the seed, tests and tools. */
  databaseUrl: string;
  /** app_rw through PgBouncer: the api's and the worker's pools. */
  appDatabaseUrl: string;
  /** app_rw straight to Postgres: the outbox relay's LISTEN (DATABASE_DIRECT_URL). */
  appDatabaseDirectUrl: string;
  /** The cluster's superuser (native mode only: compose has no such account for the tools). */
  databaseAdminUrl: string;
  /** Each Redis server's port, its URL with the password in it, and the password it requires (requirepass). */
  redisCache: { port: number; url: string; password: string };
  redisQueue: { port: number; url: string; password: string };
  nginx: { port: number; url: string };
  apis: ApiProcess[];
  workers: WorkerProcess[];
  secrets: { pepper: string; devAdminToken: string; devCustomerToken: string; loadtestKey: string };
}

export const stackEnvPath = (dir: string): string => join(dir, 'stack.env');

/** Splits `KEY=VALUE` lines (comments and blank lines skipped; a value keeps any `=` it contains). */
export function parseEnvLines(content: string): Record<string, string> {
  const entries = content
    .split('\n')
    .filter((line) => /^[A-Z0-9_]+=/.test(line))
    .map((line) => {
      const index = line.indexOf('=');
      return [line.slice(0, index), line.slice(index + 1)] as const;
    });
  return Object.fromEntries(entries);
}

/** Checks the lines against the schema and gives them types; throws naming every key that is missing or wrong. */
export function parseStackEnv(raw: Record<string, string>, source = 'stack.env'): StackEnv {
  const perReplica: Record<string, typeof port> = {};
  const counts = fixedKeys.pick({ API_COUNT: true, WORKER_COUNT: true }).safeParse(raw);
  const apiCount = counts.success ? counts.data.API_COUNT : 0;
  const workerCount = counts.success ? counts.data.WORKER_COUNT : 0;
  for (let i = 1; i <= apiCount; i += 1) {
    perReplica[`API_${i}_PORT`] = port;
    perReplica[`API_${i}_METRICS_PORT`] = port;
  }
  for (let i = 1; i <= workerCount; i += 1) perReplica[`WORKER_${i}_METRICS_PORT`] = port;
  const parsed = fixedKeys.safeParse(raw);
  const replicas = z.object(perReplica).safeParse(raw);
  const issues = [...(parsed.error?.issues ?? []), ...(replicas.error?.issues ?? [])];
  if (!parsed.success || issues.length > 0) {
    const problems = issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`${source} is not a complete native stack environment (${problems})`);
  }
  const env = parsed.data;
  const portOf = (key: string) => Number(raw[key]);
  const host = 'http://127.0.0.1';
  return {
    raw,
    dir: env.NATIVE_DIR,
    repo: env.NATIVE_REPO,
    fast: env.NATIVE_FAST === '1',
    pg: {
      port: env.PGPORT,
      password: env.PGPASSWORD,
      appPassword: env.APP_DB_PASSWORD,
      data: env.PGDATA,
      socketDir: env.PG_SOCKET_DIR,
      maxConnections: env.PG_MAX_CONNECTIONS,
      poolMax: env.PG_POOL_MAX,
    },
    pgbouncer: { port: env.PGBOUNCER_PORT },
    databaseUrl: env.DATABASE_URL,
    appDatabaseUrl: env.APP_DATABASE_URL,
    appDatabaseDirectUrl: env.APP_DATABASE_DIRECT_URL,
    databaseAdminUrl: env.DATABASE_ADMIN_URL,
    redisCache: { port: env.REDIS_CACHE_PORT, url: env.REDIS_CACHE_URL, password: env.REDIS_CACHE_PASSWORD },
    redisQueue: { port: env.REDIS_QUEUE_PORT, url: env.REDIS_QUEUE_URL, password: env.REDIS_QUEUE_PASSWORD },
    nginx: { port: env.NGINX_PORT, url: env.NGINX_URL },
    apis: Array.from({ length: env.API_COUNT }, (_, index) => {
      const i = index + 1;
      const apiPort = portOf(`API_${i}_PORT`);
      const metricsPort = portOf(`API_${i}_METRICS_PORT`);
      return {
        name: `api-${i}`,
        port: apiPort,
        url: `${host}:${apiPort}`,
        metricsPort,
        metricsUrl: `${host}:${metricsPort}/metrics`,
      };
    }),
    workers: Array.from({ length: env.WORKER_COUNT }, (_, index) => {
      const i = index + 1;
      const metricsPort = portOf(`WORKER_${i}_METRICS_PORT`);
      return {
        name: `worker-${i}`,
        metricsPort,
        metricsUrl: `${host}:${metricsPort}/metrics`,
        healthUrl: `${host}:${metricsPort}/healthz`,
      };
    }),
    secrets: {
      pepper: env.API_TOKEN_PEPPER,
      devAdminToken: env.DEV_ADMIN_TOKEN,
      devCustomerToken: env.DEV_CUSTOMER_TOKEN,
      loadtestKey: env.LOADTEST_KEY,
    },
  };
}

/** Reads and checks `<dir>/stack.env`; throws with the command to run when there is none. */
export function readStackEnv(dir: string): StackEnv {
  const path = stackEnvPath(dir);
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch {
    throw new Error(`no native stack in ${dir} (no stack.env): run make native-up`);
  }
  return parseStackEnv(parseEnvLines(content), path);
}

/** The previous stack.env's lines, or none (ports and secrets are reused from it when it exists). */
export function readPreviousLines(dir: string): Record<string, string> {
  try {
    return parseEnvLines(readFileSync(stackEnvPath(dir), 'utf8'));
  } catch {
    return {};
  }
}

/** Writes the lines atomically, readable by the owner only (it holds the pepper and the database password). */
export function writeStackEnv(dir: string, lines: Record<string, string>): StackEnv {
  const checked = parseStackEnv(lines, 'the planned stack.env');
  const path = stackEnvPath(dir);
  const body = Object.entries(lines)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n');
  const header = `# Written by make native-up at ${new Date().toISOString()}. KEY=VALUE lines: set -a; . ./stack.env; set +a`;
  writeFileSync(`${path}.tmp`, `${header}\n${body}\n`, { mode: 0o600 });
  chmodSync(`${path}.tmp`, 0o600);
  renameSync(`${path}.tmp`, path);
  return checked;
}
