/**
 * Cache-aside for public reads in the cache Redis, storing ready-to-send bodies (cached-body.ts).
 *
 * Invalidation by versioned keys. An entry's key contains the current value of one or more version
 * keys (the catalog's, and a product's for its detail page); a write bumps the versions it affects
 * after its transaction commits (`bumpVersions`, called by catalog-invalidator.ts, the one place that
 * names the versions), and from then on every replica computes new keys: the very next
 * read anywhere misses and reads Postgres. Old entries are never read again and expire by TTL. This
 * is race-free where delete-on-write is not: a reader reads the version BEFORE it queries Postgres,
 * so a slow reader that fetched old rows stores them under the old version, which nobody reads.
 * Reading the versions and the entry is one round trip (a Lua script).
 *
 * Stampede protection: concurrent misses for one key in a process share one load (single flight);
 * across replicas a short Redis lock (SET NX PX) lets one replica load while the others poll for
 * its entry for a moment, then load themselves rather than wait long.
 *
 * Fail open: the client has a command timeout and no offline queue (core/src/redis.ts). A failed or
 * slow cache command turns the read into a Postgres read (outcome `bypass`); after a failure the
 * cache is skipped for BYPASS_AFTER_FAILURE_MS so a hung Redis costs one timeout per second, not
 * one per request. A write whose version bump fails is covered by the bump every replica makes when
 * its cache connection comes back (see `watchReconnects`): entries cached before the outage are
 * never served after it.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logger.js';
import type { Redis } from '../redis.js';
import { decodeCachedBody, encodeCachedBody, prepareJson, type CachedBody } from './cached-body.js';

export type CacheOutcome =
  /** Served from Redis. */
  | 'hit'
  /** Loaded from Postgres and stored. */
  | 'miss'
  /** Another request in this process was already loading it; shared its result. */
  | 'coalesced'
  /** Another replica held the fill lock; its entry arrived while this one waited. */
  | 'filled-elsewhere'
  /** Redis unavailable or too slow: loaded from Postgres, nothing stored. */
  | 'bypass';

export interface CacheRead {
  /** Names the kind of response (`products`, `product`, `categories`): part of the key and a metrics label. */
  scope: string;
  /** Identifies the response within its scope (a canonical query string, an id). */
  key: string;
  /** Version keys (from CatalogInvalidator) whose bump must invalidate this entry. */
  versions: readonly string[];
}

export interface CacheResult {
  /** undefined when the loader found nothing (not cached: a 404 is answered from Postgres each time). */
  body: CachedBody | undefined;
  outcome: CacheOutcome;
}

export interface ResponseCacheOptions {
  logger: Logger;
  /** Entry lifetime; each entry gets +-TTL_JITTER of it so entries filled together do not expire together. */
  ttlSeconds: number;
  /** Namespace of the entries (default CACHE_KEY_PREFIX; tests use their own). */
  keyPrefix?: string;
  onOutcome?: (scope: string, outcome: CacheOutcome) => void;
  /** How long a replica waits for another replica's fill before loading itself (default LOCK_WAIT_MS). */
  lockWaitMs?: number;
}

/** The namespace of the cache's keys in Redis: entries under `<prefix>e:`, versions under `<prefix>v:`. */
export const CACHE_KEY_PREFIX = 'rc:';

const TTL_JITTER = 0.1;
/** How long the fill lock lives at most: a replica that dies while filling blocks nobody for longer. */
const LOCK_TTL_MS = 2_000;
/** How long a replica waits for another replica's fill before it loads the data itself. */
const LOCK_WAIT_MS = 250;
const LOCK_POLL_MS = 25;
/** After a failed cache command, the cache is skipped this long (reads go to Postgres). */
const BYPASS_AFTER_FAILURE_MS = 1_000;
/** Version keys expire when untouched this long; a re-created one starts from the server clock, never an old value. */
const VERSION_TTL_SECONDS = 86_400;

/*
 * KEYS: version keys. ARGV[1]: entry key prefix, ARGV[2]: entry key suffix, ARGV[3]: version TTL.
 * A missing version is created from the server clock in microseconds: after an eviction or expiry
 * it can never take a value an old entry was stored under.
 */
const READ_SCRIPT = `
local parts = {}
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if not v then
    local t = redis.call('TIME')
    v = t[1] .. string.format('%06d', tonumber(t[2]))
    redis.call('SET', KEYS[i], v, 'EX', ARGV[3])
  end
  parts[i] = v
end
local version = table.concat(parts, '.')
return { version, redis.call('GET', ARGV[1] .. version .. ARGV[2]) }`;

/* KEYS: version keys to bump. ARGV[1]: version TTL. */
const BUMP_SCRIPT = `
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('INCR', KEYS[i])
  else
    local t = redis.call('TIME')
    redis.call('SET', KEYS[i], t[1] .. string.format('%06d', tonumber(t[2])))
  end
  redis.call('EXPIRE', KEYS[i], ARGV[1])
end
return #KEYS`;

/* KEYS[1]: lock key. ARGV[1]: the holder's token. Deletes the lock only if it is still ours. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

interface CacheCommands {
  responseCacheReadBuffer(numKeys: number, ...args: (string | number)[]): Promise<[Buffer, Buffer | null]>;
  responseCacheBump(numKeys: number, ...args: (string | number)[]): Promise<number>;
}

/** Both scripts as commands of `redis` (EVALSHA, the script text is sent once per connection). */
function cacheCommands(redis: Redis): CacheCommands {
  if (!('responseCacheRead' in redis)) {
    redis.defineCommand('responseCacheRead', { lua: READ_SCRIPT });
    redis.defineCommand('responseCacheBump', { lua: BUMP_SCRIPT });
  }
  return redis as unknown as CacheCommands;
}

/** Bumps version keys (full keys, with their prefix): entries stored under their old values are never read again. */
export async function bumpVersions(redis: Redis, versionKeys: readonly string[]): Promise<void> {
  if (versionKeys.length === 0) return;
  await cacheCommands(redis).responseCacheBump(versionKeys.length, ...versionKeys, VERSION_TTL_SECONDS);
}

export class ResponseCache {
  private readonly prefix: string;
  private readonly commands: CacheCommands;
  private readonly inflight = new Map<string, Promise<CacheResult>>();
  /** Stores and reconnect invalidations not awaited by the request that started them (see `settled`). */
  private readonly pending = new Set<Promise<unknown>>();
  private skipUntil = 0;

  constructor(
    private readonly redis: Redis,
    private readonly options: ResponseCacheOptions,
  ) {
    this.prefix = options.keyPrefix ?? CACHE_KEY_PREFIX;
    this.commands = cacheCommands(redis);
  }

  async read(spec: CacheRead, load: () => Promise<unknown>): Promise<CacheResult> {
    if (!this.usable()) return this.bypass(spec, load);
    let reply: [Buffer, Buffer | null];
    try {
      reply = await this.commands.responseCacheReadBuffer(
        spec.versions.length,
        ...spec.versions,
        `${this.prefix}e:${spec.scope}:`,
        `:${spec.key}`,
        VERSION_TTL_SECONDS,
      );
    } catch (error) {
      this.failed(error, 'read');
      return this.bypass(spec, load);
    }
    const [version, stored] = reply;
    const entryKey = `${this.prefix}e:${spec.scope}:${version.toString()}:${spec.key}`;
    const cached = stored ? decodeCachedBody(stored) : undefined;
    if (cached) return this.report(spec, { body: cached, outcome: 'hit' });
    return this.singleFlight(spec, entryKey, () => this.fill(entryKey, load));
  }

  /**
   * Calls `invalidate` every time the cache connection becomes ready again after it was lost: writes
   * made while it was down could not bump their versions, and their old entries must not be served now.
   * `invalidate` resolves true when Redis took the bump. Returns a function that stops watching.
   */
  watchReconnects(invalidate: () => Promise<boolean>): () => void {
    let lost = false;
    const onLost = () => {
      lost = true;
    };
    const onReady = () => {
      if (!lost) return;
      lost = false;
      this.skipUntil = 0;
      this.track(
        invalidate().then((ok) => {
          if (ok) this.options.logger.info('cache connection back: cached entries invalidated');
        }),
      );
    };
    this.redis.on('error', onLost);
    this.redis.on('close', onLost);
    this.redis.on('ready', onReady);
    return () => {
      this.redis.off('error', onLost);
      this.redis.off('close', onLost);
      this.redis.off('ready', onReady);
    };
  }

  /**
   * Resolves once every store and reconnect invalidation started so far has finished (the requests that
   * started them did not wait). For tests and anything else that must see the cache as the last read left it.
   */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
  }

  /** `work` must not reject (its failures are handled where it is made). */
  private track(work: Promise<unknown>): void {
    this.pending.add(work);
    void work.then(() => this.pending.delete(work));
  }

  private usable(): boolean {
    return this.redis.status === 'ready' && Date.now() >= this.skipUntil;
  }

  private failed(error: unknown, operation: string): void {
    // Log once per outage, not once per request.
    if (Date.now() >= this.skipUntil) {
      this.options.logger.warn({ err: error, operation }, 'cache unavailable; reading Postgres');
    }
    this.skipUntil = Date.now() + BYPASS_AFTER_FAILURE_MS;
  }

  private bypass(spec: CacheRead, load: () => Promise<unknown>): Promise<CacheResult> {
    // Still one load per key in this process: a cache outage must not multiply Postgres reads.
    return this.singleFlight(spec, `bypass:${spec.scope}:${spec.key}`, async () => ({
      body: await prepare(await load()),
      outcome: 'bypass',
    }));
  }

  private async singleFlight(
    spec: CacheRead,
    flightKey: string,
    run: () => Promise<CacheResult>,
  ): Promise<CacheResult> {
    const running = this.inflight.get(flightKey);
    if (running) return this.report(spec, { body: (await running).body, outcome: 'coalesced' });
    const promise = run();
    this.inflight.set(flightKey, promise);
    try {
      return this.report(spec, await promise);
    } finally {
      this.inflight.delete(flightKey);
    }
  }

  private async fill(entryKey: string, load: () => Promise<unknown>): Promise<CacheResult> {
    const lockKey = `${entryKey}:lock`;
    const token = randomBytes(9).toString('base64url');
    let locked: boolean;
    try {
      locked = (await this.redis.set(lockKey, token, 'PX', LOCK_TTL_MS, 'NX')) === 'OK';
    } catch (error) {
      this.failed(error, 'lock');
      return { body: await prepare(await load()), outcome: 'bypass' };
    }
    if (!locked) {
      const found = await this.waitForEntry(entryKey);
      if (found) return { body: found, outcome: 'filled-elsewhere' };
    }
    let body: CachedBody | undefined;
    try {
      body = await prepare(await load());
    } catch (error) {
      if (locked) this.release(lockKey, token);
      throw error;
    }
    // Store and unlock in one pipeline, not awaited: the response does not wait for the cache, and a
    // failed store only means a later miss. Commands on one connection run in order, so this
    // process's next read of the key already finds it.
    const pipeline = this.redis.pipeline();
    if (body) pipeline.set(entryKey, encodeCachedBody(body), 'EX', this.ttlWithJitter());
    if (locked) pipeline.eval(RELEASE_SCRIPT, 1, lockKey, token);
    this.track(pipeline.exec().catch((error: unknown) => this.failed(error, 'store')));
    return { body, outcome: 'miss' };
  }

  private async waitForEntry(entryKey: string): Promise<CachedBody | undefined> {
    const deadline = Date.now() + (this.options.lockWaitMs ?? LOCK_WAIT_MS);
    while (Date.now() < deadline) {
      await sleep(LOCK_POLL_MS);
      try {
        const stored = await this.redis.getBuffer(entryKey);
        const body = stored ? decodeCachedBody(stored) : undefined;
        if (body) return body;
      } catch (error) {
        this.failed(error, 'wait');
        return undefined;
      }
    }
    return undefined;
  }

  private release(lockKey: string, token: string): void {
    this.track(this.redis.eval(RELEASE_SCRIPT, 1, lockKey, token).catch(() => undefined));
  }

  private ttlWithJitter(): number {
    const ttl = this.options.ttlSeconds;
    return Math.max(1, Math.round(ttl * (1 - TTL_JITTER + Math.random() * 2 * TTL_JITTER)));
  }

  private report(spec: CacheRead, result: CacheResult): CacheResult {
    this.options.onOutcome?.(spec.scope, result.outcome);
    return result;
  }
}

/** `load` results: undefined means "not found" and is not cached; anything else is JSON. */
function prepare(value: unknown): Promise<CachedBody | undefined> {
  return value === undefined ? Promise.resolve(undefined) : prepareJson(value);
}
