/**
 * The thin slice through every tier: nginx -> api replicas -> Postgres, the worker's queue path, graceful shutdown
 * under traffic, and start-up refusal of bad configuration. Runs on the native and on the compose stack.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, QueueEvents } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken, hashToken, QUEUES } from '@stack/core';
import { describeStack, ensureReplicas, repoRoot, stack, start, stop } from '../support/stack.js';

describeStack('foundation', () => {
  const suffix = `${process.pid}-${Date.now().toString(36)}`;
  let pool: pg.Pool;
  let customerToken: string;
  let adminToken: string;

  async function createUserWithToken(role: 'customer' | 'admin'): Promise<string> {
    const { rows } = await pool.query<{ id: number }>(
      `INSERT INTO users (email, name, role) VALUES ($1, $2, $3) RETURNING id`,
      [`e2e-${role}-${suffix}@example.com`, `E2E ${role}`, role],
    );
    const token = generateToken();
    await pool.query(`INSERT INTO api_tokens (user_id, token_hash) VALUES ($1, $2)`, [
      rows[0]?.id,
      hashToken(token, stack().tokenPepper),
    ]);
    return token;
  }

  beforeAll(async () => {
    await ensureReplicas(2);
    pool = new pg.Pool({ connectionString: stack().databaseUrl, max: 2 });
    customerToken = await createUserWithToken('customer');
    adminToken = await createUserWithToken('admin');
  });

  afterAll(async () => {
    await pool.end();
  });

  /** This replica's count of requests for `route`, from its own Prometheus endpoint. */
  async function requestsServed(metricsUrl: string, route: string): Promise<number> {
    const text = await (await fetch(metricsUrl)).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith('http_requests_total{') && line.includes(`route="${route}"`))
      .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
  }

  describe('the stack through nginx', () => {
    it('when the catalog is written and read through nginx, then the data is in Postgres and read back', async () => {
      const slug = `e2e-${suffix}`;
      const created = await fetch(`${stack().nginxUrl}/api/v1/admin/categories`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ slug, name: `E2E ${suffix}` }),
      });
      expect(created.status).toBe(201);
      const { rows } = await pool.query<{ name: string }>('SELECT name FROM categories WHERE slug = $1', [slug]);
      expect(rows).toEqual([{ name: `E2E ${suffix}` }]);

      // With a token: past nginx's micro-cache, so the API's own (invalidated) cache answers.
      const response = await fetch(`${stack().nginxUrl}/api/v1/categories`, {
        headers: { authorization: `Bearer ${customerToken}` },
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { data: { slug: string }[] };
      expect(body.data.map((category) => category.slug)).toContain(slug);
    });

    it('when requests arrive through nginx, then every api replica serves some of them', async () => {
      const { nginxUrl, apiMetricsUrls } = stack();
      const before = await Promise.all(apiMetricsUrls.map((url) => requestsServed(url, '/healthz')));
      // Concurrent requests: least_conn spreads them as soon as one replica has a request in flight.
      for (let round = 0; round < 10; round += 1) {
        const responses = await Promise.all(Array.from({ length: 8 }, () => fetch(`${nginxUrl}/healthz`)));
        expect(responses.map((response) => response.status)).toEqual(Array(8).fill(200));
      }
      const after = await Promise.all(apiMetricsUrls.map((url) => requestsServed(url, '/healthz')));
      const servedByEach = after.map((count, index) => count - (before[index] ?? 0));
      expect(servedByEach.reduce((sum, count) => sum + count, 0)).toBe(80);
      for (const served of servedByEach) expect(served).toBeGreaterThan(0);
    });

    it('when a job is put on the queue, then the worker runs it', async () => {
      const connection = { url: stack().redisQueueUrl };
      const queue = new Queue(QUEUES.system, { connection });
      const events = new QueueEvents(QUEUES.system, { connection });
      try {
        await events.waitUntilReady();
        const job = await queue.add('echo', { message: `hello ${suffix}` });
        await expect(job.waitUntilFinished(events, 10_000)).resolves.toEqual({ echoed: `hello ${suffix}` });
      } finally {
        await events.close();
        await queue.close();
      }
    });

    it('when an api replica gets SIGTERM under a steady stream of requests, then no request fails', async () => {
      const { nginxUrl, apiNames } = stack();
      const victim = apiNames[0] as string;
      const statuses = new Map<string, number>();
      let running = true;
      // Authenticated reads: never answered from nginx's micro-cache, so every one reaches a replica.
      // The load-test key keeps the per-IP rate limit (a different test) out of this one.
      const headers = { authorization: `Bearer ${customerToken}`, 'x-loadtest-key': stack().env.LOADTEST_KEY ?? '' };
      const client = async () => {
        while (running) {
          let outcome: string;
          try {
            const response = await fetch(`${nginxUrl}/api/v1/categories`, { headers });
            await response.arrayBuffer();
            outcome = String(response.status);
          } catch (error) {
            outcome = `network error: ${(error as Error).message}`;
          }
          statuses.set(outcome, (statuses.get(outcome) ?? 0) + 1);
          await sleep(5);
        }
      };
      const clients = Array.from({ length: 6 }, client);
      try {
        await sleep(1_000);
        await stop(victim, 'TERM');
        await sleep(1_500);
      } finally {
        running = false;
        await Promise.all(clients);
        await start(victim);
      }
      const total = [...statuses.values()].reduce((sum, count) => sum + count, 0);
      expect(total).toBeGreaterThan(50);
      expect(Object.fromEntries(statuses)).toEqual({ '200': total });
    });
  });

  describe('start-up configuration', () => {
    function start(entry: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [join(repoRoot, entry)], {
          env: { PATH: process.env.PATH ?? '', ...env },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('error', reject);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, stderr });
        });
      });
    }

    const validEnv = () => ({
      DATABASE_URL: stack().databaseUrl,
      REDIS_CACHE_URL: stack().redisCacheUrl,
      REDIS_QUEUE_URL: stack().redisQueueUrl,
      API_TOKEN_PEPPER: stack().tokenPepper,
    });

    it('when DATABASE_URL is nonsense, then the api and the worker stop at start naming it', async () => {
      for (const entry of ['api/dist/main.js', 'worker/dist/main.js']) {
        const result = await start(entry, { ...validEnv(), DATABASE_URL: 'nonsense' });
        expect(result.code).toBe(1);
        expect(result.stderr).toContain('DATABASE_URL: must be a URL like postgres://');
      }
    });

    it('when the token pepper secret is missing, then the api stops at start naming it', async () => {
      const { API_TOKEN_PEPPER: _omitted, ...env } = validEnv();
      const result = await start('api/dist/main.js', env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('API_TOKEN_PEPPER: is required');
    });

    it('when the queue Redis URL is missing, then the worker stops at start naming it', async () => {
      const { REDIS_QUEUE_URL: _omitted, ...env } = validEnv();
      const result = await start('worker/dist/main.js', env);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('REDIS_QUEUE_URL: is required');
    });
  });
});
