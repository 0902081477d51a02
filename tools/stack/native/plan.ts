/**
 * What a native stack's `up` decides before anything starts: its ports (the previous ones when still free), its
 * secrets (kept across ups so tokens and data stay valid) and its connection budget. The result is the content of
 * stack.env.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { readPreviousLines } from './env.ts';
import { NativeStackError } from './log.ts';
import { socketDirFor } from './postgres.ts';

/**
 * Connection budget (README "Connection budget"). The api and worker pools connect to PgBouncer (transaction pooling,
 * pgbouncer/pooling.ini), which alone holds server connections for them:
 *   client side: (API + WORKERS) x PG_POOL_MAX <= PgBouncer's max_client_conn (1000); PG_POOL_MAX is at most 10,
 *                as in docker-compose.yml (two cores gain nothing from more concurrent queries per process);
 *   server side: max_connections (200 by default) = 3 superuser-reserved + 25 PgBouncer (max_db_connections)
 *                + WORKERS (each outbox relay's LISTEN connects directly) + the rest, at least 60, for what connects
 *                directly: migrations, seed, tests, psql and the benchmark's naive reference pool (50).
 * So the number of api processes no longer moves the server side: 20 api processes at a pool of 10 fit in 100.
 */
export const PG_MAX_CONNECTIONS = 200;
const SUPERUSER_RESERVED = 3;
export const PGBOUNCER_SERVER_CONNECTIONS = 25;
export const PGBOUNCER_MAX_CLIENT_CONN = 1000;
const DIRECT_RESERVE = 60;
const POOL_CAP = 10;

export interface PlanRequest {
  dir: string;
  repo: string;
  apiCount: number;
  workerCount: number;
  fast: boolean;
  /** PG_POOL_MAX when given; otherwise derived from the budget. */
  poolMax?: number;
  /** Postgres' max_connections (default PG_MAX_CONNECTIONS). */
  pgMaxConnections?: number;
}

/**
 * Ports are drawn from 20000-32767: below Linux's ephemeral range (32768-60999), so an outgoing connection cannot
 * take one between the pick and the server binding it, and two stacks picking at the same moment rarely collide.
 */
const LOW = 20_000;
const HIGH = 32_767;

function tryBind(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(server));
  });
}

/**
 * One free port per slot, in slot order: the preferred one when it can be bound, else a random one. Every port is
 * proven free by binding it, and all stay bound until the set is complete, so none repeats.
 */
export async function freePorts(preferred: (number | undefined)[]): Promise<number[]> {
  const servers: net.Server[] = [];
  const taken = new Set<number>();
  const take = async (port: number | undefined) => {
    if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65_535 || taken.has(port)) return false;
    taken.add(port);
    const server = await tryBind(port);
    if (server) servers.push(server);
    return server !== undefined;
  };
  try {
    const ports: number[] = [];
    for (const wanted of preferred) {
      if (await take(wanted)) {
        ports.push(wanted as number);
        continue;
      }
      let found: number | undefined;
      for (let attempt = 0; attempt < 2000 && found === undefined; attempt += 1) {
        const candidate = randomInt(LOW, HIGH + 1);
        if (await take(candidate)) found = candidate;
      }
      if (found === undefined) throw new NativeStackError(`no free TCP port found on 127.0.0.1 in ${LOW}-${HIGH}`);
      ports.push(found);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** One free loopback port (bound, then released for the caller to bind). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts([undefined]);
  return port as number;
}

/** PG_POOL_MAX for the counts, after checking both sides of the budget; throws naming the side that does not fit. */
export function poolMaxFor(
  apiCount: number,
  workerCount: number,
  given?: number,
  maxConnections = PG_MAX_CONNECTIONS,
): number {
  const processes = apiCount + workerCount;
  const pool = given ?? Math.min(POOL_CAP, Math.floor(PGBOUNCER_MAX_CLIENT_CONN / processes));
  if (pool < 2) throw new NativeStackError(`API + WORKERS = ${processes} leaves a pool under 2 connections`);
  if (processes * pool > PGBOUNCER_MAX_CLIENT_CONN) {
    throw new NativeStackError(
      `(API + WORKERS) x PG_POOL_MAX = ${processes * pool} exceeds PgBouncer's max_client_conn ${PGBOUNCER_MAX_CLIENT_CONN}`,
    );
  }
  const direct = maxConnections - SUPERUSER_RESERVED - PGBOUNCER_SERVER_CONNECTIONS - workerCount;
  if (direct < DIRECT_RESERVE) {
    throw new NativeStackError(
      `max_connections ${maxConnections} leaves ${direct} connections for migrations, tests and tools ` +
        `(3 reserved, ${PGBOUNCER_SERVER_CONNECTIONS} PgBouncer, ${workerCount} LISTEN); at least ${DIRECT_RESERVE} are needed`,
    );
  }
  return pool;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/**
 * The key webhook secrets are sealed with (WEBHOOK_SECRET_KEY_FILE), a file as a Docker secret is: generated once in
 * the stack's folder and kept, since the endpoints stored under it open only with it.
 */
function webhookSecretKeyFile(dir: string): string {
  const path = join(dir, 'secrets', 'webhook_secret_key');
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, hex(32), { mode: 0o600 });
  }
  return path;
}

/** The lines of the new stack.env, in the order a reader expects them. */
export async function planStack(request: PlanRequest): Promise<Record<string, string>> {
  const { dir, apiCount, workerCount } = request;
  const previous = readPreviousLines(dir);
  const portKeys = ['PGPORT', 'PGBOUNCER_PORT', 'REDIS_CACHE_PORT', 'REDIS_QUEUE_PORT', 'NGINX_PORT'];
  for (let i = 1; i <= apiCount; i += 1) portKeys.push(`API_${i}_PORT`, `API_${i}_METRICS_PORT`);
  for (let i = 1; i <= workerCount; i += 1) portKeys.push(`WORKER_${i}_METRICS_PORT`);
  const chosen = await freePorts(portKeys.map((key) => (previous[key] ? Number(previous[key]) : undefined)));
  const ports = Object.fromEntries(portKeys.map((key, index) => [key, String(chosen[index])]));
  const kept = (key: string, fresh: () => string, valid = (value: string) => value !== '') => {
    const value = previous[key] ?? '';
    return valid(value) ? value : fresh();
  };
  const password = kept('PGPASSWORD', () => hex(16));
  // Each Redis server requires its own password (services.ts writes it into the server's auth.conf).
  const redisCachePassword = kept('REDIS_CACHE_PASSWORD', () => hex(24));
  const redisQueuePassword = kept('REDIS_QUEUE_PASSWORD', () => hex(24));
  const appPassword = kept('APP_DB_PASSWORD', () => hex(16));
  const maxConnections = request.pgMaxConnections ?? PG_MAX_CONNECTIONS;
  const poolMax = poolMaxFor(apiCount, workerCount, request.poolMax, maxConnections);
  const pgPort = ports.PGPORT as string;
  const bouncerPort = ports.PGBOUNCER_PORT as string;
  const lines: Record<string, string> = {
    NATIVE_DIR: dir,
    NATIVE_REPO: request.repo,
    NATIVE_FAST: request.fast ? '1' : '0',
    HOST: '127.0.0.1',
    PGHOST: '127.0.0.1',
    PGPORT: pgPort,
    PGUSER: 'app',
    PGPASSWORD: password,
    PGDATABASE: 'app',
    PGDATA: join(dir, 'pg'),
    PG_SOCKET_DIR: socketDirFor(dir),
    PG_MAX_CONNECTIONS: String(maxConnections),
    PG_POOL_MAX: String(poolMax),
    APP_DB_PASSWORD: appPassword,
    PGBOUNCER_PORT: bouncerPort,
    DATABASE_URL: `postgres://app:${password}@127.0.0.1:${pgPort}/app`,
    DATABASE_ADMIN_URL: `postgres://postgres@127.0.0.1:${pgPort}/app`,
    APP_DATABASE_URL: `postgres://app_rw:${appPassword}@127.0.0.1:${bouncerPort}/app`,
    APP_DATABASE_DIRECT_URL: `postgres://app_rw:${appPassword}@127.0.0.1:${pgPort}/app`,
    REDIS_CACHE_PORT: ports.REDIS_CACHE_PORT as string,
    REDIS_CACHE_PASSWORD: redisCachePassword,
    REDIS_CACHE_URL: `redis://:${redisCachePassword}@127.0.0.1:${ports.REDIS_CACHE_PORT}`,
    REDIS_QUEUE_PORT: ports.REDIS_QUEUE_PORT as string,
    REDIS_QUEUE_PASSWORD: redisQueuePassword,
    REDIS_QUEUE_URL: `redis://:${redisQueuePassword}@127.0.0.1:${ports.REDIS_QUEUE_PORT}`,
    NGINX_PORT: ports.NGINX_PORT as string,
    NGINX_URL: `http://127.0.0.1:${ports.NGINX_PORT}`,
    API_COUNT: String(apiCount),
  };
  for (let i = 1; i <= apiCount; i += 1) {
    const port = ports[`API_${i}_PORT`] as string;
    const metrics = ports[`API_${i}_METRICS_PORT`] as string;
    Object.assign(lines, {
      [`API_${i}_PORT`]: port,
      [`API_${i}_URL`]: `http://127.0.0.1:${port}`,
      [`API_${i}_METRICS_PORT`]: metrics,
      [`API_${i}_METRICS_URL`]: `http://127.0.0.1:${metrics}/metrics`,
    });
  }
  lines.WORKER_COUNT = String(workerCount);
  for (let i = 1; i <= workerCount; i += 1) {
    const metrics = ports[`WORKER_${i}_METRICS_PORT`] as string;
    Object.assign(lines, {
      [`WORKER_${i}_METRICS_PORT`]: metrics,
      [`WORKER_${i}_METRICS_URL`]: `http://127.0.0.1:${metrics}/metrics`,
      [`WORKER_${i}_HEALTH_URL`]: `http://127.0.0.1:${metrics}/healthz`,
    });
  }
  Object.assign(lines, {
    API_TOKEN_PEPPER: kept(
      'API_TOKEN_PEPPER',
      () => hex(32),
      (value) => value.length >= 32,
    ),
    WEBHOOK_SECRET_KEY_FILE: webhookSecretKeyFile(dir),
    DEV_ADMIN_TOKEN: kept('DEV_ADMIN_TOKEN', () => `stk_dev_admin_${hex(20)}`),
    DEV_CUSTOMER_TOKEN: kept('DEV_CUSTOMER_TOKEN', () => `stk_dev_customer_${hex(20)}`),
    // 32 characters, the shortest nginx.conf accepts as a load-test key.
    LOADTEST_KEY: kept(
      'LOADTEST_KEY',
      () => hex(16),
      (value) => value.length >= 32,
    ),
  });
  return lines;
}
