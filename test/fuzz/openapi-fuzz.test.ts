/**
 * Fuzzing from the OpenAPI document (schemathesis): thousands of generated requests, valid and
 * invalid, against every documented operation with admin rights, must never produce a 5xx, and
 * every response must carry the content type the document declares.
 *
 * The target is an api process of its own, on a scratch database and its own Redis databases,
 * because the fuzzer creates and changes catalog rows at random: the shared test stack's data stays
 * out of its reach.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadSeedConfig, migrate } from '@stack/core';
import { seed } from '../../core/src/seed/seed.js';
import { createScratchDatabase, repoRoot, stack } from '../support/stack.js';

const schemathesis = join(repoRoot, '.tools', 'venv', 'bin', 'schemathesis');
const FUZZ_SECONDS = Number(process.env.FUZZ_SECONDS ?? 60);
// Redis database index for the fuzz target's cache and queue: the stack's own processes use db 0.
const REDIS_DB = 7;
const adminToken = `stk_fuzz_admin_${Date.now().toString(36)}_0000000000`;
const logger = createLogger({ level: 'silent', instance: 'fuzz', component: 'test' });

let api: ChildProcess | undefined;
let apiUrl = '';
let dropDatabase: (() => Promise<void>) | undefined;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const withDb = (url: string) => `${url.replace(/\/\d*$/, '')}/${REDIS_DB}`;

beforeAll(async () => {
  const database = await createScratchDatabase('fuzz');
  dropDatabase = database.drop;
  await migrate({ databaseUrl: database.url, dir: join(repoRoot, 'db', 'init'), lockTimeoutMs: 5_000, logger });
  await seed(
    loadSeedConfig({
      DATABASE_URL: database.url,
      API_TOKEN_PEPPER: stack().tokenPepper,
      SEED_PRODUCTS: '500',
      SEED_CUSTOMERS: '20',
      SEED_ORDERS: '50',
      DEV_ADMIN_TOKEN: adminToken,
    }),
    logger,
  );
  const [port, metricsPort] = [await freePort(), await freePort()];
  apiUrl = `http://127.0.0.1:${port}`;
  api = spawn(process.execPath, [join(repoRoot, 'api/dist/main.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      INSTANCE_NAME: 'api-fuzz',
      LOG_LEVEL: 'error',
      DATABASE_URL: database.url,
      REDIS_CACHE_URL: withDb(stack().redisCacheUrl),
      REDIS_QUEUE_URL: withDb(stack().redisQueueUrl),
      API_TOKEN_PEPPER: stack().tokenPepper,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const ready = await fetch(`${apiUrl}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return;
    await sleep(100);
  }
  throw new Error('fuzz target api did not become ready');
}, 120_000);

afterAll(async () => {
  if (api && api.exitCode === null) {
    api.kill('SIGTERM');
    await once(api, 'exit');
  }
  await dropDatabase?.();
  for (const url of [stack().redisCacheUrl, stack().redisQueueUrl]) {
    const redis = new Redis(withDb(url));
    await redis.flushdb();
    redis.disconnect();
  }
});

describe('fuzzing the api from its OpenAPI document', () => {
  it.skipIf(!existsSync(schemathesis))(
    'when thousands of generated requests hit every operation, then none gets a 5xx or an undeclared content type',
    async () => {
      const child = spawn(
        schemathesis,
        [
          'run',
          `${apiUrl}/api/openapi.json`,
          '--header',
          `Authorization: Bearer ${adminToken}`,
          '--checks',
          'not_a_server_error,content_type_conformance',
          '--max-time',
          String(FUZZ_SECONDS),
          '--workers',
          '1',
          '--no-color',
        ],
        // Its working folder collects a replay database (.schemathesis/): keep that out of the repository.
        { stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir() },
      );
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      const summary = output.split('\n').filter((line) => /generated|passed|failures|Test cases|=====/.test(line));
      console.log(`schemathesis summary:\n${summary.join('\n')}`);
      expect(output, output.slice(-6_000)).toMatch(/Test cases:\s*\n\s*\d+ generated/);
      expect(code, output.slice(-6_000)).toBe(0);
    },
    FUZZ_SECONDS * 1_000 + 60_000,
  );
});
