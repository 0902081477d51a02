/** The native stack the benchmark measures (tools/stack/native, in a folder of its own), and its process roles. */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { stackFromEnvironment } from '../../tools/stack/native/cli.ts';
import { NativeStack } from '../../tools/stack/native/native-stack.ts';
import { repoRoot } from '../../load-tests/native/paths.ts';

export interface BenchStack {
  dir: string;
  /** stack.env as KEY=VALUE (ports, URLs, secrets). */
  env: Record<string, string>;
  nginxUrl: string;
  apiCount: number;
  workerCount: number;
}

/** Starts (or resumes) the bench stack, unseeded: the benchmark seeds the data sets it measures itself. */
export async function stackUp(dir: string, apiCount: number, workerCount: number): Promise<BenchStack> {
  const { stack, options } = stackFromEnvironment({
    ...process.env,
    NATIVE_DIR: dir,
    API: String(apiCount),
    WORKERS: String(workerCount),
    NATIVE_SEED: '0',
  });
  await stack.up(options);
  return loadStack(dir);
}

/** Stops the bench stack and deletes its folder. */
export async function stackDown(dir: string): Promise<void> {
  await new NativeStack(dir, repoRoot).down(true);
}

export function loadStack(dir: string): BenchStack {
  const env = new NativeStack(dir, repoRoot).env;
  return {
    dir,
    env: env.raw,
    nginxUrl: env.nginx.url,
    apiCount: env.apis.length,
    workerCount: env.workers.length,
  };
}

/** Restarts the stack's nginx with an empty micro-cache, so no entry of an earlier data set is served. */
export async function restartNginxEmpty(bench: BenchStack): Promise<void> {
  const stack = new NativeStack(bench.dir, repoRoot);
  await stack.stop('nginx');
  await rm(join(bench.dir, 'nginx', 'proxy_cache'), { recursive: true, force: true });
  await stack.start('nginx');
}

/** Root PIDs of the stack's processes by role (children such as nginx workers and Postgres backends follow). */
export function stackRoles(bench: BenchStack): Record<string, number[]> {
  const stack = new NativeStack(bench.dir, repoRoot);
  const roles: Record<string, number[]> = { api: [], worker: [], nginx: [], postgres: [], redis: [] };
  const add = (role: string, name: string) => {
    const pid = stack.pidOf(name);
    if (pid) roles[role]?.push(pid);
  };
  for (let i = 1; i <= bench.apiCount; i += 1) add('api', `api-${i}`);
  for (let i = 1; i <= bench.workerCount; i += 1) add('worker', `worker-${i}`);
  add('nginx', 'nginx');
  add('postgres', 'postgres');
  add('redis', 'redis-cache');
  add('redis', 'redis-queue');
  return roles;
}
