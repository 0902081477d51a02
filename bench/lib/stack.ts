/** The native stack the benchmark measures (scripts/native.sh in a folder of its own), and its process roles. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../load-tests/native/paths.ts';
import { readEnvFile } from '../../load-tests/native/run.ts';

const run = promisify(execFile);

export interface BenchStack {
  dir: string;
  env: Record<string, string>;
  nginxUrl: string;
  apiCount: number;
  workerCount: number;
}

export async function native(dir: string, args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run('bash', [join(repoRoot, 'scripts', 'native.sh'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, NATIVE_DIR: dir, ...extraEnv },
    maxBuffer: 16 * 1024 * 1024,
    timeout: 600_000,
  });
  return stdout;
}

export async function stackUp(dir: string, apiCount: number, workerCount: number): Promise<BenchStack> {
  await native(dir, ['up'], { API: String(apiCount), WORKERS: String(workerCount), NATIVE_SEED: '0' });
  return loadStack(dir);
}

export function loadStack(dir: string): BenchStack {
  const env = readEnvFile(join(dir, 'stack.env'));
  const need = (key: string) => {
    const value = env[key];
    if (!value) throw new Error(`${dir}/stack.env has no ${key}`);
    return value;
  };
  return {
    dir,
    env,
    nginxUrl: need('NGINX_URL'),
    apiCount: Number(need('API_COUNT')),
    workerCount: Number(need('WORKER_COUNT')),
  };
}

/** Restarts the stack's nginx with an empty micro-cache, so no entry of an earlier data set is served. */
export async function restartNginxEmpty(stack: BenchStack): Promise<void> {
  await native(stack.dir, ['stop', 'nginx']);
  await rm(join(stack.dir, 'nginx', 'proxy_cache'), { recursive: true, force: true });
  await native(stack.dir, ['start', 'nginx']);
}

export function stackPid(stack: BenchStack, name: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(stack.dir, 'run', `${name}.pid`), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Root PIDs of the stack's processes by role (children such as nginx workers and Postgres backends follow). */
export function stackRoles(stack: BenchStack): Record<string, number[]> {
  const roles: Record<string, number[]> = { api: [], worker: [], nginx: [], postgres: [], redis: [] };
  const add = (role: string, name: string) => {
    const pid = stackPid(stack, name);
    if (pid) roles[role]?.push(pid);
  };
  for (let i = 1; i <= stack.apiCount; i += 1) add('api', `api-${i}`);
  for (let i = 1; i <= stack.workerCount; i += 1) add('worker', `worker-${i}`);
  add('nginx', 'nginx');
  add('postgres', 'postgres');
  add('redis', 'redis-cache');
  add('redis', 'redis-queue');
  return roles;
}
