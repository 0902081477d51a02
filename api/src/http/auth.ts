/**
 * Bearer-token authentication and role checks. A token is looked up by its HMAC (see
 * core/src/auth/tokens.ts); revoked or expired tokens are refused like unknown ones, with the same
 * message, so a client cannot probe which tokens exist.
 *
 * Valid tokens are remembered in process for `cacheMs` (AUTH_TOKEN_CACHE_MS, default 5 s) to spare a
 * Postgres round trip per authenticated request. Revocation semantics: on the replica that handles
 * the revoke, at once (`forgetToken`); on the other replicas within `cacheMs`; expiry is honoured
 * exactly (an entry never outlives the token's expires_at). Unknown tokens are never remembered, so
 * random tokens cannot fill the memory; the map is also capped.
 */
import type { Request, RequestHandler } from 'express';
import { findTokenOwner, hashToken, type Pool, type Role } from '@stack/core';
import { AppError } from './problem.js';

export type { Role };

export interface AuthenticatedUser {
  id: number;
  role: Role;
  tokenId: number;
}

declare module 'express-serve-static-core' {
  interface Request {
    user?: AuthenticatedUser;
  }
}

const BEARER = /^Bearer ([A-Za-z0-9_-]{20,200})$/;
const MAX_CACHED_TOKENS = 10_000;

export interface Authenticator {
  /** Sets `req.user` from a valid bearer token; 401 for a missing, malformed, unknown, revoked or expired one. */
  middleware: RequestHandler;
  /** Drops a revoked token from this replica's memory. */
  forgetToken(tokenId: number): void;
}

export function createAuthenticator(deps: { pool: Pool; tokenPepper: string; cacheMs: number }): Authenticator {
  const remembered = new Map<string, { user: AuthenticatedUser; until: number }>();

  const lookup = async (token: string): Promise<AuthenticatedUser | undefined> => {
    const hash = hashToken(token, deps.tokenPepper);
    const key = hash.toString('base64');
    const now = Date.now();
    const hit = remembered.get(key);
    if (hit && hit.until > now) return hit.user;
    if (hit) remembered.delete(key);
    const owner = await findTokenOwner(deps.pool, hash);
    if (!owner) return undefined;
    const user = { id: owner.userId, role: owner.role, tokenId: owner.tokenId };
    if (deps.cacheMs > 0) {
      if (remembered.size >= MAX_CACHED_TOKENS) remembered.delete(remembered.keys().next().value as string);
      const until = Math.min(now + deps.cacheMs, owner.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY);
      remembered.set(key, { user, until });
    }
    return user;
  };

  return {
    middleware: async (req, _res, next) => {
      const header = req.headers.authorization;
      if (header === undefined) throw unauthorized('This route needs a bearer token.');
      const match = BEARER.exec(header);
      if (!match?.[1]) throw unauthorized('The Authorization header must be "Bearer <token>".');
      const user = await lookup(match[1]);
      if (!user) throw unauthorized('The token is unknown, revoked or expired.');
      req.user = user;
      next();
    },
    forgetToken(tokenId) {
      for (const [key, entry] of remembered) if (entry.user.tokenId === tokenId) remembered.delete(key);
    },
  };
}

/** The caller's user id, in the handler of a route that is not public (its guard authenticated the caller). */
export function callerId(req: Request): number {
  if (!req.user) throw new Error('callerId() in a public route: nothing authenticated the caller');
  return req.user.id;
}

/** Allows the request only for an authenticated user with one of `roles`: 401 without a user, 403 with another role. */
export function requireRole(...roles: Role[]): RequestHandler {
  return (req, _res, next) => {
    if (!req.user) throw unauthorized('This route needs a bearer token.');
    if (!roles.includes(req.user.role)) throw new AppError('forbidden', `This route is for: ${roles.join(', ')}.`);
    next();
  };
}

function unauthorized(detail: string): AppError {
  return new AppError('unauthorized', detail, {}, { 'WWW-Authenticate': 'Bearer' });
}
