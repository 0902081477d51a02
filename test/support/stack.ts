/**
 * What tests know about the running native stack (see global-setup.ts), plus small helpers to make
 * real clients for it. Every client a test opens, it closes in afterAll/afterEach.
 */
import pg from 'pg';
import { inject } from 'vitest';
import { repoRoot, runNative } from './native.js';

export { repoRoot };

export interface Stack {
  env: Record<string, string>;
  nativeDir: string;
  databaseUrl: string;
  databaseAdminUrl: string;
  redisCacheUrl: string;
  redisQueueUrl: string;
  nginxUrl: string;
  apiUrls: string[];
  apiMetricsUrls: string[];
  tokenPepper: string;
}

export function stack(): Stack {
  const env = inject('stackEnv');
  const need = (key: string): string => {
    const value = env[key];
    if (value === undefined) throw new Error(`stack.env has no ${key}`);
    return value;
  };
  const apiCount = Number(need('API_COUNT'));
  const indexes = Array.from({ length: apiCount }, (_, i) => i + 1);
  return {
    env,
    nativeDir: need('NATIVE_DIR'),
    databaseUrl: need('DATABASE_URL'),
    databaseAdminUrl: need('DATABASE_ADMIN_URL'),
    redisCacheUrl: need('REDIS_CACHE_URL'),
    redisQueueUrl: need('REDIS_QUEUE_URL'),
    nginxUrl: need('NGINX_URL'),
    apiUrls: indexes.map((i) => need(`API_${i}_URL`)),
    apiMetricsUrls: indexes.map((i) => need(`API_${i}_METRICS_URL`)),
    tokenPepper: need('API_TOKEN_PEPPER'),
  };
}

/** Runs `scripts/native.sh <args>` against the test stack (e.g. `stop api-1 KILL`, `start api-1`). */
export async function nativeCommand(...args: string[]): Promise<string> {
  return runNative(args, { ...process.env, NATIVE_DIR: stack().nativeDir });
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
