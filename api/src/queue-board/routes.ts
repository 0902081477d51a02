/**
 * The queue UI (bull-board) at /admin/queues, for admins only: anonymous requests get 401, other
 * roles 403, like every admin route.
 *
 * How an admin reaches it in a browser, where navigation cannot carry a bearer header: open
 * /admin/queues/login, paste an admin API token, and the api answers with a session cookie for this
 * path only: HttpOnly (no script reads it), SameSite=Strict (no other site can make the browser send
 * it, which also covers bull-board's own POST/PUT actions against CSRF), Secure when the request came
 * over HTTPS (req.secure: X-Forwarded-Proto from nginx, the one trusted hop) or QUEUE_BOARD_COOKIE_SECURE
 * is on (a TLS proxy in front of nginx), and short-lived (QUEUE_BOARD_SESSION_TTL_SECONDS).
 *
 * The cookie is `<token id>.<expiry>.<signature>`. The signature's key is derived from API_TOKEN_PEPPER AND
 * the stored hash of that token, which only the database holds and only the token's owner can compute: the
 * pepper alone (public in development) cannot mint a session, and a revoked or deleted token's sessions die
 * with it. An expiry later than now + TTL is refused, so a cookie cannot be made to last. Scripts and tests
 * may send the bearer header instead (the screenshot test does, through Playwright's extraHTTPHeaders).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { Router, type Request, type RequestHandler } from 'express';
import type { JobQueues, Pool } from '@stack/core';
import { requireRole, type Authenticator, type Role } from '../http/auth.js';
import { AppError } from '../http/problem.js';
import type { ApiModule } from '../http/route.js';

export const QUEUE_BOARD_PATH = '/admin/queues';
const COOKIE_NAME = 'queue_board_session';

export interface QueueBoardDeps {
  pool: Pool;
  /** BullMQ queues on the api's producer connection, read by this UI only (the api never enqueues). */
  queues: JobQueues;
  authenticator: Authenticator;
  /** API_TOKEN_PEPPER; the cookie key is derived from it and the token's stored hash, never the pepper itself. */
  tokenPepper: string;
  sessionTtlSeconds: number;
  /** QUEUE_BOARD_COOKIE_SECURE: mark the cookie Secure even when the request reached nginx over plain HTTP. */
  cookieSecure?: boolean;
}

export function queueBoardModule(deps: QueueBoardDeps): ApiModule {
  return {
    prefix: '',
    routes: [],
    mounts: [
      {
        path: QUEUE_BOARD_PATH,
        summary:
          'Queue dashboard (bull-board), admins only: bearer token, or the session cookie from the sign-in page at ' +
          `${QUEUE_BOARD_PATH}/login (anonymous 401, other roles 403)`,
        tag: 'Jobs',
        // The guard is this module's own (bearer OR session cookie), see queueBoardRouter.
        access: 'public',
        responses: {
          401: { description: 'No valid bearer token or session cookie.' },
          403: { description: 'The caller is not an admin.' },
        },
        handler: queueBoardRouter(deps),
      },
    ],
  };
}

export function queueBoardRouter(deps: QueueBoardDeps): Router {
  const session = sessionCodec(deps.tokenPepper, deps.sessionTtlSeconds);
  const serverAdapter = new ExpressAdapter().setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: Object.values(deps.queues).map((queue) => new BullMQAdapter(queue)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'node-stack queues' } },
  });

  const router = Router();
  router.get('/login', (_req, res) => {
    res.set('Cache-Control', 'no-store').type('html').send(LOGIN_PAGE);
  });

  // Sign in: an admin token in the Authorization header or in the login form's `token` field.
  router.post(
    '/session',
    express.urlencoded({ extended: false, limit: '2kb' }),
    (req, _res, next) => {
      const token = (req.body as { token?: unknown } | undefined)?.token;
      if (req.headers.authorization === undefined && typeof token === 'string') {
        req.headers.authorization = `Bearer ${token.trim()}`;
      }
      next();
    },
    deps.authenticator.middleware,
    requireRole('admin'),
    async (req, res) => {
      const user = req.user as NonNullable<Request['user']>;
      const tokenHash = await storedTokenHash(deps.pool, user.tokenId);
      if (!tokenHash) throw new AppError('unauthorized', 'The token has just been revoked.');
      res.cookie(COOKIE_NAME, session.encode(user.tokenId, tokenHash), {
        httpOnly: true,
        sameSite: 'strict',
        secure: deps.cookieSecure === true || req.secure,
        path: QUEUE_BOARD_PATH,
        maxAge: deps.sessionTtlSeconds * 1_000,
      });
      res.set('Cache-Control', 'no-store');
      if (req.is('application/x-www-form-urlencoded')) res.redirect(303, `${QUEUE_BOARD_PATH}/`);
      else res.status(204).end();
    },
  );

  router.post('/logout', (_req, res) => {
    res.clearCookie(COOKIE_NAME, { path: QUEUE_BOARD_PATH, httpOnly: true, sameSite: 'strict' });
    res.redirect(303, `${QUEUE_BOARD_PATH}/login`);
  });

  const fromSessionOrBearer: RequestHandler = async (req, res, next) => {
    const cookie = session.parse(readCookie(req, COOKIE_NAME));
    if (cookie === undefined || req.headers.authorization !== undefined) {
      return deps.authenticator.middleware(req, res, next);
    }
    const user = await sessionUser(deps.pool, cookie.tokenId);
    if (!user || !session.verify(cookie, user.tokenHash)) {
      throw new AppError('unauthorized', `The session has ended; sign in again at ${QUEUE_BOARD_PATH}/login.`);
    }
    req.user = { id: user.id, role: user.role, tokenId: cookie.tokenId };
    next();
  };
  router.use(fromSessionOrBearer, requireRole('admin'), serverAdapter.getRouter() as RequestHandler);
  return router;
}

interface SessionCookie {
  tokenId: number;
  expires: number;
  signature: string;
}

/** The user behind a session's token and the token's stored hash, if the token is still valid. */
async function sessionUser(
  pool: Pool,
  tokenId: number,
): Promise<{ id: number; role: Role; tokenHash: Buffer } | undefined> {
  const { rows } = await pool.query<{ id: number; role: Role; tokenHash: Buffer }>(
    `SELECT u.id, u.role, t.token_hash AS "tokenHash"
       FROM api_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.id = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())`,
    [tokenId],
  );
  return rows[0];
}

async function storedTokenHash(pool: Pool, tokenId: number): Promise<Buffer | undefined> {
  const { rows } = await pool.query<{ tokenHash: Buffer }>(
    `SELECT token_hash AS "tokenHash" FROM api_tokens WHERE id = $1 AND revoked_at IS NULL`,
    [tokenId],
  );
  return rows[0]?.tokenHash;
}

/**
 * `<token id>.<expiry, unix seconds>.<HMAC-SHA256, base64url>`, keyed by HMAC(pepper, label || stored token hash).
 * parse() only reads the shape and the expiry window; verify() needs the token's hash from the database.
 */
function sessionCodec(pepper: string, ttlSeconds: number) {
  const pepperKey = createHmac('sha256', pepper).update('queue-board-session-v2').digest();
  const sign = (tokenId: number, expires: number, tokenHash: Buffer) => {
    const key = createHmac('sha256', pepperKey).update(tokenHash).digest();
    return createHmac('sha256', key).update(`${tokenId}.${expires}`).digest('base64url');
  };
  return {
    encode(tokenId: number, tokenHash: Buffer): string {
      const expires = Math.floor(Date.now() / 1_000) + ttlSeconds;
      return `${tokenId}.${expires}.${sign(tokenId, expires, tokenHash)}`;
    },
    parse(value: string | undefined): SessionCookie | undefined {
      const match = value ? /^(\d{1,12})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value) : null;
      if (!match) return undefined;
      const [, tokenId, expires, signature] = match as unknown as [string, string, string, string];
      const now = Date.now() / 1_000;
      // Expired, or later than any cookie this api issues (now + TTL): refused before any lookup.
      if (Number(expires) < now || Number(expires) > Math.ceil(now) + ttlSeconds) return undefined;
      return { tokenId: Number(tokenId), expires: Number(expires), signature };
    },
    verify(cookie: SessionCookie, tokenHash: Buffer): boolean {
      const expected = Buffer.from(sign(cookie.tokenId, cookie.expires, tokenHash));
      return timingSafeEqual(Buffer.from(cookie.signature), expected);
    },
  };
}

function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index > 0 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

const LOGIN_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Queues - sign in</title><meta name="robots" content="noindex"></head>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto">
<h1>Queue dashboard</h1>
<p>Sign in with an admin API token. The session lasts a few minutes and is valid for this dashboard only.</p>
<form method="post" action="${QUEUE_BOARD_PATH}/session">
<label>Admin token <input name="token" type="password" autocomplete="off" required style="width: 100%"></label>
<p><button type="submit">Sign in</button></p>
</form>
</body>
</html>
`;
