/**
 * How tests reach the stack of their vitest project (vitest.config.ts has one per mode): the project's global set-up
 * started it and provided `stackEnv`; this module builds the matching Stack (tools/stack/stack.ts) from it and gives
 * tests its actions by the same names in both modes (`api-1`, `nginx`, `postgres`, ...). Every client a test opens,
 * it closes in afterAll/afterEach.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { describe, inject } from 'vitest';
import { ComposeStack } from '../../tools/stack/compose/compose-stack.ts';
import { runCommand as runPlain, type CommandOptions } from '../../tools/stack/compose/commands.ts';
import { NativeStack } from '../../tools/stack/native/native-stack.ts';
import type { StackAddresses, StackMode, StopSignal } from '../../tools/stack/stack.ts';

export const repoRoot = join(import.meta.dirname, '..', '..');

export type { StackMode };

const mode = (): StackMode => (inject('stackEnv').MODE === 'compose' ? 'compose' : 'native');

/** Which way this project runs the stack; known while collecting tests, even when no stack could start. */
export const stackMode = mode;

/** Why this run has no stack of this mode (no Docker engine, ...), or undefined when it has one. */
export const stackUnavailable = (): string | undefined => inject('stackEnv').SKIP_REASON || undefined;

let running: NativeStack | ComposeStack | undefined;

/** The Stack of this test project (native: the folder global-setup started; compose: the project it started). */
export function runningStack(): NativeStack | ComposeStack {
  running ??= mode() === 'compose' ? composeFromSetup() : nativeFromSetup();
  return running;
}

/** The native stack (for tests that act on processes only native mode has, such as SIGSTOP to one replica). */
export function nativeStack(): NativeStack {
  const current = runningStack();
  if (current.mode !== 'native') throw new Error('this test needs the native stack');
  return current;
}

function composeStack(): ComposeStack {
  const current = runningStack();
  if (current.mode !== 'compose') throw new Error('this test needs the compose stack');
  return current;
}

function nativeFromSetup(): NativeStack {
  const env = inject('stackEnv');
  if (!env.NATIVE_DIR) throw new Error('the native global set-up provided no NATIVE_DIR');
  return new NativeStack(env.NATIVE_DIR, repoRoot);
}

function composeFromSetup(): ComposeStack {
  const env = inject('stackEnv');
  const need = (key: string) => {
    const value = env[key];
    if (value === undefined) throw new Error(`the containers global set-up provided no ${key}`);
    return value;
  };
  return new ComposeStack({
    name: need('COMPOSE_PROJECT_NAME'),
    dir: need('COMPOSE_DIR'),
    variables: JSON.parse(env.COMPOSE_ENV ?? '{}') as Record<string, string>,
    nginxUrl: need('NGINX_URL'),
    postgres: { user: need('POSTGRES_USER'), password: need('POSTGRES_PASSWORD'), database: need('POSTGRES_DB') },
    tokenPepper: need('API_TOKEN_PEPPER'),
    loadtestKey: env.LOADTEST_KEY ?? '',
    env,
  });
}

/** Addresses and secrets of the running stack (re-read after a scale or a restart that changes them). */
export function stack(): StackAddresses {
  return runningStack().addresses();
}

/** Takes a service down with this signal (TERM: graceful drain) and keeps it down until `start`. */
export function stop(name: string, signal: 'TERM' | 'KILL' = 'TERM'): Promise<void> {
  return runningStack().stop(name, `SIG${signal}` satisfies StopSignal);
}

/** Starts a service that is down (no-op for a running one) and waits until it is healthy again. */
export function start(name: string, env: Record<string, string> = {}): Promise<void> {
  return runningStack().start(name, env);
}

/** Freezes a service: connections are accepted by the kernel, nothing is answered (SIGSTOP / docker pause). */
export const pause = (name: string): Promise<void> => runningStack().pause(name);

export const resume = (name: string): Promise<void> => runningStack().resume(name);

/**
 * At least `count` api replicas running. Compose scales up to it (`docker compose up --scale`); native mode starts
 * with a fixed number (TEST_STACK_API) and fails the test that needs more.
 */
export async function ensureReplicas(count: number): Promise<void> {
  const current = stack().apiUrls.length;
  if (mode() === 'native') {
    if (current < count) throw new Error(`the native test stack has ${current} api replicas, not ${count}`);
    return;
  }
  // `up --scale` also starts replicas that an earlier test stopped; then nginx must route to every one again (a
  // replica that failed stays out of its upstream for fail_timeout, a new one until the resolver's next look).
  await scale(Math.max(count, current));
  await waitUntilEveryReplicaServes();
}

/** Exactly `count` api replicas (compose only: native mode's replica count is fixed at start). */
export const scale = (count: number): Promise<void> => runningStack().scale(count);

/** nginx's JSON access log so far (native: its stdout log file; compose: the container's stdout). */
export const accessLog = (): Promise<string> => runningStack().accessLog();

/** Skips the per-IP rate limits (the stack writes the key into nginx's loadtest-key.conf). */
export const loadtestHeaders = (): Record<string, string> => ({ 'x-loadtest-key': stack().loadtestKey });

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

/** After a test changed the containers itself (`make scale`, `docker kill`): read their addresses again. */
export const rereadStack = (): void => composeStack().forgetAddresses();

/** `docker compose` on the test project, in the folder it was started from. */
export const composeCommand = (args: string[]): Promise<string> => composeStack().compose(args);

/** The docker CLI with the test project's variables; resolves with stdout (+ stderr unless `stderr: false`). */
export const docker = (args: string[], options: CommandOptions = {}): Promise<string> =>
  mode() === 'compose' ? composeStack().docker(args, options) : runCommand('docker', args, options);

/** Any command with the compose project's variables (so `make` and `docker compose` reach the test project). */
export const runCommand = (command: string, args: string[], options: CommandOptions = {}): Promise<string> =>
  mode() === 'compose' ? composeStack().run(command, args, options) : runPlain(command, args, options);

/**
 * `describe` for tests that need a stack: skipped, with the reason in its name, when this run has no stack of
 * this mode (no Docker engine). Hooks that open clients belong inside it, so a skipped run opens nothing.
 */
export function describeStack(name: string, body: () => void): void {
  const reason = stackUnavailable();
  if (reason) describe.skip(`${name} [${reason}]`, body);
  else describe(name, body);
}
