/**
 * Issue 5, rate limit per client IP (edge_per_ip: 100 r/s, burst 200, nodelay): a burst above it gets
 * 429 problem+json with Retry-After, traffic below it never does, and a client-sent X-Forwarded-For
 * does not change the bucket (nginx keys on the TCP peer address, $binary_remote_addr).
 *
 * These requests must NOT carry the load-test key. They all come from 127.0.0.1, so every test starts
 * by letting the bucket drain: 200 requests of burst at 100 r/s are gone after 2 s of quiet (the other
 * edge tests send the key and are not counted).
 *
 * The requests go to a micro-cached URL: after the first, nginx answers them itself, so the burst is
 * fast (the limiter runs before the cache) and the replicas are not flooded.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createProducts, edgeUrl, openDb, sleep, uniqueWord } from './support.js';

const RATE_PER_SECOND = 100;
const BURST = 200;

let db: pg.Pool;
let path: string;

beforeAll(async () => {
  db = openDb();
  const word = uniqueWord('limit');
  await createProducts(db, { word, count: 1 });
  path = `/api/v1/products?q=${word}`;
});

afterAll(async () => {
  await db.end();
});

interface Answer {
  /** The headers the request carried (besides fetch's own). */
  sent: Record<string, string>;
  status: number;
  headers: Headers;
  body: string;
}

async function get(headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(edgeUrl(path), { headers });
  return { sent: headers, status: response.status, headers: response.headers, body: await response.text() };
}

/** Lets the per-IP bucket empty (see the header comment), then fills the micro-cache entry. */
async function quietBucket(): Promise<void> {
  await sleep((BURST / RATE_PER_SECOND) * 1_000 + 300);
  expect((await get()).status).toBe(200);
}

/** `total` requests from `concurrency` clients, as fast as they go; statuses in sending order, elapsed time. */
async function burst(total: number, concurrency: number, headers: () => Record<string, string> = () => ({})) {
  const answers: Answer[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next += 1;
        answers.push(await get(headers()));
      }
    }),
  );
  return { answers, seconds: (performance.now() - started) / 1_000 };
}

const forgedAddress = () => `${randomInt(1, 224)}.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

function expectRateLimitProblem(answer: Answer): void {
  expect(answer.status).toBe(429);
  expect(answer.headers.get('content-type')).toBe('application/problem+json');
  expect(answer.headers.get('retry-after')).toBe('1');
  expect(answer.headers.get('cache-control')).toBe('no-store');
  expect(answer.headers.get('x-cache-status')).toBeNull();
  const problem = JSON.parse(answer.body) as Record<string, unknown>;
  expect(problem).toMatchObject({
    type: 'https://problems.node-stack.dev/rate-limited',
    status: 429,
    title: 'Too many requests',
  });
  expect(problem.requestId).toBe(answer.headers.get('x-request-id'));
}

describe('per-IP rate limit', () => {
  it('when traffic stays below the limit (a 150-request burst, then 50 r/s for 3 s), then no request gets 429', async () => {
    await quietBucket();
    const { answers: burstAnswers } = await burst(150, 50);
    await sleep(2_000);
    const paced: Answer[] = [];
    const started = performance.now();
    for (let i = 0; i < 150; i += 1) {
      // 50 r/s: request i is not sent before i x 20 ms.
      await sleep(Math.max(0, started + i * 20 - performance.now()));
      paced.push(await get());
    }
    const statuses = [...burstAnswers, ...paced].map((answer) => answer.status);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(statuses).toHaveLength(300);
  });

  it('when a burst goes above the limit, then the excess gets 429 problem+json with Retry-After', async () => {
    await quietBucket();
    const { answers, seconds } = await burst(800, 50);
    const allowed = answers.filter((answer) => answer.status === 200).length;
    const limited = answers.filter((answer) => answer.status === 429);
    console.log(
      `rate limit: ${answers.length} requests in ${seconds.toFixed(2)} s -> ${allowed} x 200, ${limited.length} x 429`,
    );

    expect(allowed + limited.length).toBe(answers.length);
    expect(limited.length).toBeGreaterThan(0);
    // The burst allowance is served in full; beyond it, no more than the rate over the time the burst took.
    // (quietBucket's own request is the 1 in BURST - 1.)
    expect(allowed).toBeGreaterThanOrEqual(BURST - 1);
    expect(allowed).toBeLessThanOrEqual(BURST + Math.ceil(RATE_PER_SECOND * seconds) + 1);
    for (const answer of limited) expectRateLimitProblem(answer);
  });

  it('when the client sends a forged X-Forwarded-For, then it still lands in the bucket of its own address', async () => {
    await quietBucket();
    // Three requests in four claim another client address each; were the limiter keyed on it, each of them
    // would have a bucket of its own and none would be limited. The fourth sends no such header.
    let sent = 0;
    const { answers } = await burst(800, 50, (): Record<string, string> => {
      sent += 1;
      return sent % 4 === 0 ? {} : { 'x-forwarded-for': forgedAddress(), 'x-real-ip': forgedAddress() };
    });
    const forged = new Set(answers.filter((answer) => 'x-forwarded-for' in answer.sent));
    const limitedForged = answers.filter((answer) => forged.has(answer) && answer.status === 429);
    const limitedPlain = answers.filter((answer) => !forged.has(answer) && answer.status === 429);
    console.log(
      `rate limit, forged X-Forwarded-For: ${limitedForged.length} forged and ${limitedPlain.length} plain requests got 429`,
    );
    // One bucket for all of them: both kinds were limited.
    expect(limitedForged.length).toBeGreaterThan(0);
    expect(limitedPlain.length).toBeGreaterThan(0);
    for (const answer of [...limitedForged, ...limitedPlain]) expectRateLimitProblem(answer);
  });
});
