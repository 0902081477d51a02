/**
 * The processes of a native stack besides Postgres: how each is launched (the same topology as
 * docker-compose.yml, from local binaries), how its readiness is checked, and nginx's generated configuration.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { StackEnv } from './env.ts';
import { NativeStackError } from './log.ts';
import { pgbouncerSpec } from './pgbouncer.ts';
import { tailOf, type LaunchSpec } from './processes.ts';

const run = promisify(execFile);

/** Entry points, relative to the repository; overridable (NATIVE_API_MAIN, ...) to try the stack with stand-ins. */
export interface EntryPoints {
  api: string;
  worker: string;
  migrate: string;
  seed: string;
}

/** Process names in start order. */
export function processNames(env: StackEnv): string[] {
  return [
    'postgres',
    'pgbouncer',
    'redis-cache',
    'redis-queue',
    ...env.apis.map((api) => api.name),
    ...env.workers.map((worker) => worker.name),
    'nginx',
  ];
}

export function portOf(env: StackEnv, name: string): number {
  if (name === 'postgres') return env.pg.port;
  if (name === 'pgbouncer') return env.pgbouncer.port;
  if (name === 'redis-cache') return env.redisCache.port;
  if (name === 'redis-queue') return env.redisQueue.port;
  if (name === 'nginx') return env.nginx.port;
  const api = env.apis.find((entry) => entry.name === name);
  if (api) return api.port;
  const worker = env.workers.find((entry) => entry.name === name);
  if (worker) return worker.metricsPort;
  throw new NativeStackError(`unknown process '${name}'; one of: ${processNames(env).join(' ')}`);
}

/**
 * Settings every Node process gets; `*_FILE` twins are removed so an inherited one cannot conflict. DATABASE_URL is the
 * owner's, straight to Postgres, for the one-shot programs (migrate, seed); launchSpecs gives api and worker app_rw's.
 */
export function nodeEnvironment(env: StackEnv): Pick<LaunchSpec, 'env' | 'unset'> {
  return {
    env: {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      DATABASE_URL: env.databaseUrl,
      REDIS_CACHE_URL: env.redisCache.url,
      REDIS_QUEUE_URL: env.redisQueue.url,
      API_TOKEN_PEPPER: env.secrets.pepper,
      WEBHOOK_SECRET_KEY_FILE: env.secrets.webhookSecretKeyFile,
      PG_POOL_MAX: String(env.pg.poolMax),
      // The native stack serves tests, load tests and the benchmark, which place many orders from few tokens: the
      // order caps and the per-token write limit (core/src/config.ts, orderLimits) stay out of their way.
      ORDER_MAX_LINES: '50',
      ORDER_MAX_UNITS: '50000',
      CUSTOMER_MAX_HELD_UNITS: '100000000',
      API_WRITE_RATE_PER_SECOND: '1000000',
      API_WRITE_BURST: '1000000',
    },
    unset: [
      'DATABASE_URL_FILE',
      'DATABASE_DIRECT_URL_FILE',
      'API_TOKEN_PEPPER_FILE',
      'REDIS_CACHE_URL_FILE',
      'REDIS_QUEUE_URL_FILE',
      'WEBHOOK_SECRET_KEY',
      'WEBHOOK_SECRET_PREVIOUS_KEYS_FILE',
    ],
  };
}

/** The nginx command line of both `nginx -t` and the running server (its pid file stays inside its prefix). */
export function nginxArgs(env: StackEnv): string[] {
  const prefix = join(env.dir, 'nginx');
  return [
    '-p',
    `${prefix}/`,
    '-c',
    join(prefix, 'conf', 'nginx.conf'),
    '-g',
    `daemon off; pid ${prefix}/nginx.pid; worker_processes auto;`,
  ];
}

/** The config file with a Redis server's `requirepass` (`--requirepass` would show the password in ps). */
const redisAuthConfig = (dir: string) => join(dir, 'auth.conf');

/** Writes the password of redis-cache or redis-queue into its auth.conf, readable by the owner only. */
export function writeRedisAuthConfig(env: StackEnv, name: string): void {
  const password = name === 'redis-cache' ? env.redisCache.password : env.redisQueue.password;
  writeFileSync(redisAuthConfig(join(env.dir, name)), `requirepass ${password}\n`, { mode: 0o600 });
}

/** A redis-server in the foreground on loopback, logging to stderr, with no RDB snapshots, requiring a password. */
function redisSpec(port: number, dir: string, settings: string[]): LaunchSpec {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--daemonize', 'no', '--dir', dir, '--logfile', ''];
  return {
    command: 'redis-server',
    args: [redisAuthConfig(dir), ...args, '--save', '', ...settings],
    env: {},
    unset: [],
    match: 'redis-server',
  };
}

/** How each process of the stack but Postgres is started. */
export function launchSpecs(env: StackEnv, mains: EntryPoints): Record<string, LaunchSpec> {
  const node = process.execPath;
  const base = nodeEnvironment(env);
  // api and worker: app_rw (rows only) through PgBouncer; the worker's LISTEN straight to Postgres.
  const appDatabase = { DATABASE_URL: env.appDatabaseUrl };
  const specs: Record<string, LaunchSpec> = {
    pgbouncer: pgbouncerSpec(env, env.repo),
    // The cache evicts (a miss costs a database read); the queue never does and keeps an append-only file, as in
    // docker-compose.yml.
    'redis-cache': redisSpec(env.redisCache.port, join(env.dir, 'redis-cache'), [
      '--maxmemory',
      '256mb',
      '--maxmemory-policy',
      'allkeys-lru',
      '--appendonly',
      'no',
    ]),
    'redis-queue': redisSpec(env.redisQueue.port, join(env.dir, 'redis-queue'), [
      '--maxmemory-policy',
      'noeviction',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
    ]),
    // nginx's stderr (its error log) goes to logs/nginx.stderr.log, its stdout (the shared config's access log) to
    // logs/nginx.stdout.log. As root, nginx runs its workers as `nobody` unless the config names a user.
    nginx: {
      command: 'nginx',
      args: nginxArgs(env),
      env: {},
      unset: [],
      match: 'nginx',
      stdout: join(env.dir, 'logs', 'nginx.stdout.log'),
    },
  };
  for (const api of env.apis) {
    specs[api.name] = {
      command: node,
      args: [mains.api],
      env: {
        ...base.env,
        ...appDatabase,
        PORT: String(api.port),
        METRICS_PORT: String(api.metricsPort),
        INSTANCE_NAME: api.name,
      },
      unset: base.unset,
      match: mains.api,
    };
  }
  for (const worker of env.workers) {
    specs[worker.name] = {
      command: node,
      args: [mains.worker],
      env: {
        ...base.env,
        ...appDatabase,
        DATABASE_DIRECT_URL: env.appDatabaseDirectUrl,
        WORKER_METRICS_PORT: String(worker.metricsPort),
        INSTANCE_NAME: worker.name,
      },
      unset: base.unset,
      match: mains.worker,
    };
  }
  return specs;
}

function redisAnswersPing(port: number, password: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write(`AUTH ${password}\r\nPING\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.split('\r\n').length > 2) done(reply.startsWith('+OK\r\n+PONG'));
    });
  });
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** The check docker-compose.yml's healthcheck makes for the same service. */
export async function isReady(env: StackEnv, name: string): Promise<boolean> {
  const port = portOf(env, name);
  if (name === 'postgres' || name === 'pgbouncer') {
    const args = ['-q', '-h', '127.0.0.1', '-p', String(port), '-t', '2', '-d', 'app', '-U', 'app_rw'];
    return run('pg_isready', args).then(
      () => true,
      () => false,
    );
  }
  if (name === 'redis-cache') return redisAnswersPing(port, env.redisCache.password);
  if (name === 'redis-queue') return redisAnswersPing(port, env.redisQueue.password);
  if (name.startsWith('api-')) return httpOk(`http://127.0.0.1:${port}/readyz`);
  return httpOk(`http://127.0.0.1:${port}/healthz`);
}

/**
 * The nginx prefix: conf/ links every file and folder of the repository's nginx/ (but docker/) and adds the files
 * that differ from compose: upstream.conf (inside the upstream block), listen.conf and loadtest-key.conf. Checked
 * with `nginx -t` before anything starts.
 */
export async function writeNginxPrefix(env: StackEnv, source: string): Promise<void> {
  if (!existsSync(join(source, 'nginx.conf'))) throw new NativeStackError(`${source}/nginx.conf missing`);
  const prefix = join(env.dir, 'nginx');
  const conf = join(prefix, 'conf');
  rmSync(conf, { recursive: true, force: true });
  for (const folder of [conf, join(prefix, 'logs'), join(prefix, 'cache'), join(prefix, 'tmp')]) {
    mkdirSync(folder, { recursive: true });
  }
  const generated = new Set(['docker', 'upstream.conf', 'listen.conf', 'loadtest-key.conf']);
  for (const entry of readdirSync(source)) {
    if (!generated.has(entry)) symlinkSync(join(source, entry), join(conf, entry));
  }
  const header = '# Written by make native-up.';
  const upstream = env.apis.map((api) => `server 127.0.0.1:${api.port} max_fails=2 fail_timeout=5s;`);
  writeFileSync(join(conf, 'upstream.conf'), [`${header} One line per API process.`, ...upstream, ''].join('\n'));
  writeFileSync(join(conf, 'listen.conf'), `${header}\nlisten 127.0.0.1:${env.nginx.port};\n`);
  // The load-test allowance (nginx/README.md): requests carrying X-Loadtest-Key: <LOADTEST_KEY> skip the rate
  // limits, so a benchmark measures the stack, not the limiter. Requests without it are limited as usual.
  writeFileSync(join(conf, 'loadtest-key.conf'), `${header}\n"${env.secrets.loadtestKey}" 1;\n`);
  // Its output goes to a file: nginx opens /dev/stdout for the access log, which fails on the socket Node would pipe.
  const logPath = join(env.dir, 'logs', 'nginx-test.log');
  const output = openSync(logPath, 'w');
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('nginx', ['-t', '-q', ...nginxArgs(env)], { stdio: ['ignore', output, output] });
    child.once('error', () => resolve(-1));
    child.once('exit', resolve);
  }).finally(() => closeSync(output));
  if (code !== 0) throw new NativeStackError(`nginx -t failed for ${conf}/nginx.conf\n${tailOf(logPath)}`);
}
