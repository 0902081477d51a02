/**
 * The one way tests reach a running stack, whichever way it runs (vitest.config.ts has a project per mode):
 *   native   processes from local binaries (scripts/native.sh, started by test/support/global-setup.ts);
 *   compose  containers on a Docker engine (`make up`, started by test/containers/support/global-setup.ts).
 * `stack()` gives addresses and secrets; `stop`, `start`, `pause`, `resume`, `scale` and `accessLog` act on one
 * service or replica by the same names in both modes (`api-1`, `nginx`, `postgres`, ...). Every client a test
 * opens, it closes in afterAll/afterEach.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describe, inject } from 'vitest';
import { repoRoot, runNative } from './native.js';

export { repoRoot };

export type StackMode = 'native' | 'compose';

export interface Stack {
  mode: StackMode;
  env: Record<string, string>;
  /** Native mode's state folder (logs, PID files); compose mode has none and throws. */
  nativeDir: string;
  databaseUrl: string;
  databaseAdminUrl: string;
  redisCacheUrl: string;
  redisQueueUrl: string;
  nginxUrl: string;
  /** The api replicas running now, in the order of their names (api-1, api-2, ...). */
  apiUrls: string[];
  apiMetricsUrls: string[];
  /** Names of the replicas in apiUrls, as stop/start/pause take them. */
  apiNames: string[];
  tokenPepper: string;
}

export type StopSignal = 'TERM' | 'KILL';

const mode = (): StackMode => (inject('stackEnv').MODE === 'compose' ? 'compose' : 'native');

/** Which way this project runs the stack; known while collecting tests, even when no stack could start. */
export const stackMode = mode;

/** Why this run has no stack of this mode (no Docker engine, ...), or undefined when it has one. */
export const stackUnavailable = (): string | undefined => inject('stackEnv').SKIP_REASON || undefined;

export function stack(): Stack {
  return mode() === 'compose' ? composeStack() : nativeStack();
}

/** Takes a service down with this signal (TERM: graceful drain) and keeps it down until `start`. */
export async function stop(name: string, signal: StopSignal = 'TERM'): Promise<void> {
  if (mode() === 'native') {
    await runNative(['stop', name, signal], nativeEnv());
    return;
  }
  // `docker stop` marks the container stopped on purpose, so its restart policy leaves it down.
  await docker(['stop', '--signal', signal, '--time', signal === 'KILL' ? '0' : '30', containerName(name)]);
}

/** Starts a service that is down (no-op for a running one) and waits until it is healthy again. */
export async function start(name: string): Promise<void> {
  if (mode() === 'native') {
    await runNative(['start', name], nativeEnv());
    return;
  }
  await docker(['start', containerName(name)]);
  await waitHealthy(containerName(name));
  forgetAddresses();
}

/** Freezes a service: connections are accepted by the kernel, nothing is answered (SIGSTOP / docker pause). */
export async function pause(name: string): Promise<void> {
  if (mode() === 'native') await runNative(['stop', name, 'STOP'], nativeEnv());
  else await docker(['pause', containerName(name)]);
}

export async function resume(name: string): Promise<void> {
  if (mode() === 'native') await runNative(['stop', name, 'CONT'], nativeEnv());
  else await docker(['unpause', containerName(name)]).catch(() => undefined);
}

/**
 * At least `count` api replicas running. Compose scales up to it (`docker compose up --scale`); native mode starts
 * with a fixed number (TEST_STACK_API) and fails the test that needs more.
 */
export async function ensureReplicas(count: number): Promise<void> {
  if (mode() === 'native') {
    if (stack().apiUrls.length < count) {
      throw new Error(`the native test stack has ${stack().apiUrls.length} api replicas, not ${count}`);
    }
    return;
  }
  // `up --scale` also starts replicas that an earlier test stopped; then nginx must route to every one again (a
  // replica that failed stays out of its upstream for fail_timeout, a new one until the resolver's next look).
  await scale(Math.max(count, stack().apiUrls.length));
  await waitUntilEveryReplicaServes();
}

/** Exactly `count` api replicas (compose only: native mode's replica count is fixed at start). */
export async function scale(count: number): Promise<void> {
  if (mode() === 'native') throw new Error('scale: native mode runs a fixed number of replicas');
  await composeCommand(['up', '--detach', '--wait', '--no-recreate', '--scale', `api=${count}`, 'api']);
  forgetAddresses();
}

/** nginx's JSON access log so far (native: its stdout log file; compose: the container's stdout). */
export async function accessLog(): Promise<string> {
  if (mode() === 'native') return readFile(join(stack().nativeDir, 'logs', 'nginx.stdout.log'), 'utf8');
  return docker(['logs', containerName('nginx')], { stderr: false });
}

/** Skips the per-IP rate limits (native.sh writes the key into nginx's loadtest-key.conf). */
export const loadtestHeaders = (): Record<string, string> => ({ 'x-loadtest-key': stack().env.LOADTEST_KEY ?? '' });

/** This replica's `http_requests_total` for one route template and method (all statuses). */
export async function requestsServed(metricsUrl: string, route: string, method = 'GET'): Promise<number> {
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
  return text
    .split('\n')
    .filter(
      (line) =>
        line.startsWith('http_requests_total{') &&
        line.includes(`route="${route}"`) &&
        line.includes(`method="${method}"`),
    )
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

/** `requestsServed` for every replica whose index is listed (a frozen replica's metrics would not answer). */
export async function servedBy(indexes: number[], route: string, method = 'GET'): Promise<number[]> {
  const urls = stack().apiMetricsUrls;
  return Promise.all(indexes.map((index) => requestsServed(urls[index] as string, route, method)));
}

/**
 * After a test stopped and restarted replicas: waits until nginx routes to every replica again. A
 * replica that failed stays out of the upstream for fail_timeout (5 s), and when every replica failed
 * nginx answers 502 until then; the next test must find the stack as healthy as it was.
 */
export async function waitUntilEveryReplicaServes(timeoutMs = 30_000): Promise<void> {
  const all = stack().apiUrls.map((_, index) => index);
  const before = await servedBy(all, '/healthz');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(
      Array.from({ length: 2 * all.length }, async () => {
        try {
          const response = await fetch(`${stack().nginxUrl}/healthz`, {
            headers: loadtestHeaders(),
            signal: AbortSignal.timeout(5_000),
          });
          await response.arrayBuffer();
          return response.status;
        } catch {
          return 0;
        }
      }),
    );
    const after = await servedBy(all, '/healthz');
    if (statuses.every((status) => status === 200) && after.every((count, index) => count > (before[index] ?? 0)))
      return;
    if (Date.now() > deadline) {
      throw new Error(
        `nginx does not route to every replica after ${timeoutMs} ms (last statuses ${statuses.join(',')})`,
      );
    }
    await sleep(250);
  }
}

/**
 * A fresh, empty database on the stack's Postgres, dropped by the returned cleanup. For tests that
 * need a schema of their own (migrations) rather than rows of their own.
 */
export async function createScratchDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: stack().databaseAdminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(stack().databaseAdminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: stack().databaseAdminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** Runs `scripts/native.sh <args>` against the native test stack (e.g. `stop api-1 KILL`, `start api-1`). */
export async function nativeCommand(...args: string[]): Promise<string> {
  return runNative(args, nativeEnv());
}

// --- native ----------------------------------------------------------------------------------------------------------

const nativeEnv = (): NodeJS.ProcessEnv => ({ ...process.env, NATIVE_DIR: nativeStack().nativeDir });

function nativeStack(): Stack {
  const env = inject('stackEnv');
  const need = needFrom(env, 'stack.env');
  const indexes = Array.from({ length: Number(need('API_COUNT')) }, (_, i) => i + 1);
  return {
    mode: 'native',
    env,
    nativeDir: need('NATIVE_DIR'),
    databaseUrl: need('DATABASE_URL'),
    databaseAdminUrl: need('DATABASE_ADMIN_URL'),
    redisCacheUrl: need('REDIS_CACHE_URL'),
    redisQueueUrl: need('REDIS_QUEUE_URL'),
    nginxUrl: need('NGINX_URL'),
    apiUrls: indexes.map((i) => need(`API_${i}_URL`)),
    apiMetricsUrls: indexes.map((i) => need(`API_${i}_METRICS_URL`)),
    apiNames: indexes.map((i) => `api-${i}`),
    tokenPepper: need('API_TOKEN_PEPPER'),
  };
}

// --- compose ---------------------------------------------------------------------------------------------------------
// The test process runs on the engine's host: it reaches containers on the project's bridge network by their
// addresses (nginx also through its published loopback port, as a user does).

interface ComposeAddresses {
  services: Map<string, string>;
  replicas: { name: string; address: string }[];
}

let addresses: ComposeAddresses | undefined;
/** A stopped container has no address; it gets the one it had back when it starts again (or a new one, re-read). */
const lastKnown = new Map<string, string>();
const forgetAddresses = () => (addresses = undefined);

/** After a test changed the containers itself (`make scale`, `docker kill`): read their addresses again. */
export const rereadStack = (): void => forgetAddresses();

function composeStack(): Stack {
  const env = inject('stackEnv');
  const need = needFrom(env, 'the containers global set-up');
  addresses ??= readComposeAddresses(need('COMPOSE_PROJECT_NAME'));
  const { services, replicas } = addresses;
  const at = (service: string) => {
    const address = services.get(service);
    if (address === undefined) {
      throw new Error(
        `compose project has no running ${service} container (found: ${[...services.keys()].join(', ')})`,
      );
    }
    return address;
  };
  const database = `postgres://${need('POSTGRES_USER')}:${need('POSTGRES_PASSWORD')}@${at('postgres')}:5432/${need('POSTGRES_DB')}`;
  return {
    mode: 'compose',
    env,
    get nativeDir(): string {
      throw new Error('nativeDir: compose mode has no native state folder');
    },
    databaseUrl: database,
    // The compose database user is the cluster's superuser (the image creates it so).
    databaseAdminUrl: database,
    redisCacheUrl: `redis://${at('redis')}:6379`,
    redisQueueUrl: `redis://${at('redis-queue')}:6379`,
    nginxUrl: need('NGINX_URL'),
    apiUrls: replicas.map((replica) => `http://${replica.address}:3000`),
    apiMetricsUrls: replicas.map((replica) => `http://${replica.address}:9100/metrics`),
    apiNames: replicas.map((replica) => replica.name),
    tokenPepper: need('API_TOKEN_PEPPER'),
  };
}

/**
 * Containers of the project (running or stopped: a stopped replica keeps its name, so it can be started again):
 * one address per service, and the api replicas in index order.
 */
function readComposeAddresses(project: string): ComposeAddresses {
  const lines = execFileSync(
    'docker',
    [
      'ps',
      '--all',
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--format',
      '{{.ID}} {{.Label "com.docker.compose.service"}} {{.Label "com.docker.compose.container-number"}}',
    ],
    { encoding: 'utf8' },
  )
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ') as [string, string, string]);
  if (lines.length === 0) return { services: new Map(), replicas: [] };
  const ips = execFileSync(
    'docker',
    ['inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', ...lines.map(([id]) => id)],
    { encoding: 'utf8' },
  )
    .trim()
    .split('\n')
    .map((line) => line.trim().split(' ')[0] ?? '');
  const services = new Map<string, string>();
  const replicas: { name: string; address: string; index: number }[] = [];
  lines.forEach(([, service, number], i) => {
    const key = `${service}-${number}`;
    const address = ips[i] || lastKnown.get(key) || '';
    if (address !== '') lastKnown.set(key, address);
    if (service === 'api') replicas.push({ name: `api-${number}`, address, index: Number(number) });
    else if (address !== '' && !services.has(service)) services.set(service, address);
  });
  replicas.sort((a, b) => a.index - b.index);
  return { services, replicas };
}

/** Compose names a service's containers `<project>-<service>-<n>`; a bare service name means its first one. */
function containerName(name: string): string {
  const project = inject('stackEnv').COMPOSE_PROJECT_NAME;
  return /-\d+$/.test(name) ? `${project}-${name}` : `${project}-${name}-1`;
}

async function waitHealthy(container: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = (
      await docker([
        'inspect',
        '--format',
        '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}',
        container,
      ])
    ).trim();
    if (state === 'running healthy' || state === 'running') return;
    if (Date.now() > deadline) throw new Error(`${container} is "${state}" after ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** `docker compose` on the test project, in the folder it was started from. */
export async function composeCommand(args: string[]): Promise<string> {
  return docker(['compose', ...args], { cwd: inject('stackEnv').COMPOSE_DIR });
}

/** Runs the docker CLI and returns its stdout (and stderr unless `stderr: false`); rejects on a non-zero exit. */
export const docker = (args: string[], options: CommandOptions = {}): Promise<string> =>
  runCommand('docker', args, options);

export interface CommandOptions {
  cwd?: string;
  /** Added to this process's environment and the compose project's variables. */
  env?: Record<string, string>;
  /** false: stdout only. */
  stderr?: boolean;
}

/**
 * Runs a command with the compose project's variables (project name, images, port) in its environment, so every
 * later `docker compose` or `make` reaches the project the set-up started. Rejects on a non-zero exit.
 */
export function runCommand(command: string, args: string[], options: CommandOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...composeEnvironment(), ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(options.stderr === false ? stdout : stdout + stderr);
      else
        reject(
          new Error(`${command} ${args.join(' ')} exited ${code}:
${(stdout + stderr).slice(-4000)}`),
        );
    });
  });
}

/** The variables the test project was started with (project name, images, ports), for every later compose call. */
function composeEnvironment(): Record<string, string> {
  const env = inject('stackEnv');
  if (env.MODE !== 'compose') return {};
  return JSON.parse(env.COMPOSE_ENV ?? '{}') as Record<string, string>;
}

function needFrom(env: Record<string, string>, source: string): (key: string) => string {
  return (key) => {
    const value = env[key];
    if (value === undefined) throw new Error(`${source} provided no ${key}`);
    return value;
  };
}

/**
 * `describe` for tests that need a stack: skipped, with the reason in its name, when this run has no stack of
 * this mode (no Docker engine). Hooks that open clients belong inside it, so a skipped run opens nothing.
 */
export function describeStack(name: string, body: () => void): void {
  const reason = stackUnavailable();
  if (reason) describe.skip(`${name} [${reason}]`, body);
  else describe(name, body);
}
