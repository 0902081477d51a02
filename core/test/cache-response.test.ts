import { setTimeout as sleep } from 'node:timers/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  CatalogInvalidator,
  createCacheRedis,
  createLogger,
  decodeCachedBody,
  encodeCachedBody,
  prepareJson,
  ResponseCache,
  type CacheOutcome,
  type Redis,
} from '@stack/core';
import { stack } from '../../test/support/stack.js';

const logger = createLogger({ level: 'silent', instance: 'cache-test', component: 'test' });

/** Accepts TCP connections and never answers: a hung Redis. */
async function blackHole(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function ready(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
}

describe('response cache', () => {
  const clients: Redis[] = [];
  let prefix: string;
  const outcomes: CacheOutcome[] = [];

  const client = async (url = stack().redisCacheUrl, timeoutMs = 500) => {
    const redis = createCacheRedis(url, timeoutMs, logger);
    clients.push(redis);
    return redis;
  };
  const cacheOn = (redis: Redis, ttlSeconds = 60, lockWaitMs?: number) =>
    new ResponseCache(redis, {
      logger,
      ttlSeconds,
      keyPrefix: prefix,
      onOutcome: (_scope, outcome) => outcomes.push(outcome),
      ...(lockWaitMs === undefined ? {} : { lockWaitMs }),
    });
  /** The versions and invalidation of the same namespace. */
  const catalogOn = (redis: Redis) => new CatalogInvalidator(redis, { logger, keyPrefix: prefix });
  /** A read of one entry stored under the catalog version. */
  const things = (redis: Redis) => ({ scope: 'things', key: 'k', versions: catalogOn(redis).listVersions() });

  afterEach(() => {
    outcomes.length = 0;
  });
  afterAll(() => {
    for (const redis of clients) redis.disconnect();
  });

  const fresh = () => {
    prefix = `test:${randomBytes(6).toString('hex')}:`;
  };
  /** A namespace of its own and a cache on a ready connection to the stack's cache Redis. */
  const freshCache = async (ttlSeconds = 60, lockWaitMs?: number) => {
    fresh();
    const redis = await client();
    await ready(redis);
    return { redis, cache: cacheOn(redis, ttlSeconds, lockWaitMs) };
  };

  it('when an entry is encoded and decoded, then etag, type, body and gzip come back; foreign bytes are a miss', async () => {
    const small = await prepareJson({ a: 1 });
    const large = await prepareJson({ data: 'x'.repeat(5_000) });
    expect(small.gzipped).toBeUndefined();
    expect(large.gzipped?.length).toBeLessThan(large.body.length);
    for (const entry of [small, large]) {
      const decoded = decodeCachedBody(encodeCachedBody(entry));
      expect(decoded?.etag).toBe(entry.etag);
      expect(decoded?.contentType).toBe(entry.contentType);
      expect(decoded?.body.equals(entry.body)).toBe(true);
      expect(decoded?.gzipped?.equals(entry.gzipped ?? Buffer.alloc(0)) ?? entry.gzipped === undefined).toBe(true);
    }
    expect(decodeCachedBody(Buffer.from('{"legacy":true}'))).toBeUndefined();
    expect((await prepareJson({ a: 1 })).etag).toBe(small.etag);
  });

  it('when the same read repeats, then the second is a hit and the loader ran once', async () => {
    const { redis, cache } = await freshCache();
    let loads = 0;
    const load = async () => ({ value: ++loads });
    const spec = things(redis);
    const first = await cache.read(spec, load);
    await cache.settled();
    const second = await cache.read(spec, load);
    expect([first.outcome, second.outcome]).toEqual(['miss', 'hit']);
    expect(second.body?.body.toString()).toBe('{"value":1}');
    expect(second.body?.etag).toBe(first.body?.etag);
    expect(loads).toBe(1);
  });

  it('when a version is bumped, then the next read on any client misses and sees the new data', async () => {
    const { redis: redisA, cache: a } = await freshCache();
    const redisB = await client();
    await ready(redisB);
    const b = cacheOn(redisB);
    let value = 'old';
    const spec = { scope: 'things', key: 'k', versions: catalogOn(redisA).productVersions(1) };
    await a.read(spec, async () => value);
    await a.settled();
    expect((await b.read(spec, async () => value)).outcome).toBe('hit');
    value = 'new';
    expect(await catalogOn(redisA).stockChanged([1])).toBe(true);
    const after = await b.read(spec, async () => value);
    expect(after.outcome).toBe('miss');
    expect(after.body?.body.toString()).toBe('"new"');
  });

  it('when a version key disappears (eviction), then entries stored under the old version are never served again', async () => {
    const { redis, cache } = await freshCache();
    let value = 1;
    const spec = things(redis);
    await cache.read(spec, async () => value);
    await cache.settled();
    await redis.del(spec.versions);
    value = 2;
    const after = await cache.read(spec, async () => value);
    expect(after.outcome).toBe('miss');
    expect(after.body?.body.toString()).toBe('2');
  });

  it('when many requests in one process miss together, then one loads and the rest share its result', async () => {
    const { redis, cache } = await freshCache();
    let loads = 0;
    const load = async () => {
      loads += 1;
      await sleep(50);
      return { loads };
    };
    const spec = things(redis);
    const results = await Promise.all(Array.from({ length: 20 }, () => cache.read(spec, load)));
    expect(loads).toBe(1);
    expect(results.filter((r) => r.outcome === 'miss')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'coalesced')).toHaveLength(19);
  });

  it('when two replicas miss together, then the Redis lock lets one load while the other waits for its entry', async () => {
    // A generous wait, so a loaded CI machine cannot make the waiting replica give up and load too.
    const first = await freshCache(60, 5_000);
    const redis = [first.redis, await client()] as const;
    await ready(redis[1]);
    const replicas = [first.cache, cacheOn(redis[1], 60, 5_000)];
    let loads = 0;
    const load = async () => {
      loads += 1;
      await sleep(80);
      return 'filled';
    };
    const spec = things(redis[0]);
    const results = await Promise.all(replicas.map((replica) => replica.read(spec, load)));
    expect(loads).toBe(1);
    expect(results.map((r) => r.outcome).sort()).toEqual(['filled-elsewhere', 'miss']);
    expect(results.every((r) => r.body?.body.toString() === '"filled"')).toBe(true);
  });

  it('when entries are stored, then their TTL is the configured one with +-10 % jitter', async () => {
    const { redis, cache } = await freshCache(100);
    const ttls: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      await cache.read({ ...things(redis), scope: 'ttl', key: String(i) }, async () => i);
    }
    await cache.settled();
    for (const key of await redis.keys(`${prefix}e:ttl:*`)) ttls.push(await redis.ttl(key));
    expect(ttls).toHaveLength(20);
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(89);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(110);
    expect(new Set(ttls).size).toBeGreaterThan(1);
  });

  it('when the cache Redis refuses connections, then reads come from the loader at once (fail open) and invalidation reports false', async () => {
    fresh();
    const dead = new URL(stack().redisCacheUrl);
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    dead.port = String((probe.address() as { port: number }).port);
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const redis = await client(dead.toString());
    const cache = cacheOn(redis);
    const started = performance.now();
    const result = await cache.read(things(redis), async () => 'from postgres');
    expect(performance.now() - started).toBeLessThan(100);
    expect(result.outcome).toBe('bypass');
    expect(result.body?.body.toString()).toBe('"from postgres"');
    expect(await catalogOn(redis).catalogChanged()).toBe(false);
  });

  it('when the cache Redis hangs, then a read waits at most the command timeout, and later reads skip the cache', async () => {
    fresh();
    const hole = await blackHole();
    try {
      const redis = await client(hole.url, 150);
      // A TCP connection that never answers: ioredis may still say "connect"; the cache must not wait for it.
      await sleep(50);
      const cache = cacheOn(redis);
      const spec = things(redis);
      let started = performance.now();
      const first = await cache.read(spec, async () => 'loaded');
      const firstMs = performance.now() - started;
      expect(first.outcome).toBe('bypass');
      expect(firstMs).toBeLessThan(400);
      started = performance.now();
      const second = await cache.read(spec, async () => 'loaded');
      expect(second.outcome).toBe('bypass');
      expect(performance.now() - started).toBeLessThan(50);
    } finally {
      await hole.close();
    }
  });

  it('when the connection comes back after a loss, then cached entries are invalidated (writes during the outage could not bump)', async () => {
    const { redis, cache } = await freshCache();
    const stop = cache.watchReconnects(() => catalogOn(redis).catalogChanged());
    try {
      let value = 'before';
      const spec = things(redis);
      await cache.read(spec, async () => value);
      await cache.settled();
      value = 'changed while the cache was unreachable';
      redis.disconnect(true);
      await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
      // The reconnect bump started on 'ready' (before this listener ran): wait for it, not for a while.
      await cache.settled();
      const after = await cache.read(spec, async () => value);
      expect(after.outcome).toBe('miss');
      expect(after.body?.body.toString()).toContain('changed');
    } finally {
      stop();
    }
  });
});
