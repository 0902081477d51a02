import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '@stack/core';

declare module 'express-serve-static-core' {
  interface Request {
    /** nginx's X-Request-Id when well-formed, else our own: ties the edge log, our logs and the problem body. */
    id: string;
    /** Child logger carrying the request id; created on first use, so requests that log nothing pay nothing. */
    log: Logger;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

/**
 * Per-request context. There is no per-request access log here on purpose: nginx writes one JSON
 * line per request with upstream timings, so a second one at info level would double the log volume
 * and cost throughput on the hot path. The api logs warnings and errors, with the request id.
 */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const header = req.headers['x-request-id'];
    const id = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
    req.id = id;
    let child: Logger | undefined;
    Object.defineProperty(req, 'log', {
      configurable: true,
      get: () => (child ??= logger.child({ reqId: id })),
    });
    res.setHeader('X-Request-Id', id);
    next();
  };
}
