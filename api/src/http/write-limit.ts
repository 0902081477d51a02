/**
 * A per-token write limit in the api, on top of nginx's per-address limits (nginx/nginx.conf): one
 * customer spread over many addresses, or many customers behind one, are still limited per token.
 *
 * A token bucket per API token in the cache Redis, shared by every replica: `burst` writes at once,
 * refilled at `ratePerSecond`. The bucket is updated in one Lua script (atomic across replicas) on
 * Redis' clock (replicas' clocks need not agree). Over the limit: 429 problem+json with Retry-After.
 *
 * Fails open: the cache Redis has a command timeout and no offline queue (core/src/redis.ts); when it
 * is down, writes go through (logged) - nginx's per-address limits still apply and stock is guarded by
 * the order caps in Postgres, so a cache outage must not stop sales.
 */
import type { RequestHandler } from 'express';
import type { Redis } from '@stack/core';
import { AppError } from './problem.js';

export interface WriteLimitSettings {
  ratePerSecond: number;
  burst: number;
  /** Key namespace (tests use their own). */
  keyPrefix?: string;
}

// KEYS[1]: the bucket; ARGV: rate per second, burst. Returns { allowed (1/0), ms until one token is back }.
const TAKE_TOKEN = `
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or nowMs
tokens = math.min(burst, tokens + math.max(0, nowMs - at) * rate / 1000)
local allowed = 0
local waitMs = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  waitMs = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(nowMs))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return { allowed, waitMs }`;

type TakeToken = (key: string, rate: number, burst: number) => Promise<[number, number]>;

/** Middleware for write routes behind authentication (`req.user` is set). */
export function writeLimit(redis: Redis, settings: WriteLimitSettings): RequestHandler {
  const commands = redis as Redis & { takeWriteToken?: TakeToken };
  if (!commands.takeWriteToken) redis.defineCommand('takeWriteToken', { numberOfKeys: 1, lua: TAKE_TOKEN });
  const take = (key: string) =>
    (commands.takeWriteToken as TakeToken).call(redis, key, settings.ratePerSecond, settings.burst);
  const prefix = settings.keyPrefix ?? 'ratelimit:writes:token:';

  return async (req, _res, next) => {
    const tokenId = req.user?.tokenId;
    if (tokenId === undefined) return next();
    let result: [number, number];
    try {
      result = await take(prefix + tokenId);
    } catch (error) {
      req.log.warn({ err: error }, 'write limit unavailable (cache Redis); letting the write through');
      return next();
    }
    const [allowed, waitMs] = result;
    if (allowed === 1) return next();
    const retryAfter = Math.max(1, Math.ceil(waitMs / 1_000));
    throw new AppError(
      'tooManyRequests',
      `This token made more than ${settings.burst} writes in a burst (refilled at ${settings.ratePerSecond} per second); retry after ${retryAfter} s.`,
      { limit: 'writes per token' },
      { 'Retry-After': String(retryAfter) },
    );
  };
}
