/**
 * One error type, one handler, one wire format: RFC 9457 problem details
 * (https://www.rfc-editor.org/rfc/rfc9457). `type` is a stable URI per kind of error that clients can
 * switch on; `title` is the same for every occurrence; `detail` explains this one. 5xx responses never
 * carry internals: the cause is logged with the request id, and the client gets that id.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_BASE = 'https://problems.node-stack.dev/';

export const PROBLEMS = {
  badRequest: { status: 400, type: 'bad-request', title: 'Bad request' },
  malformedJson: { status: 400, type: 'malformed-json', title: 'Malformed JSON body' },
  unauthorized: { status: 401, type: 'unauthorized', title: 'Authentication required' },
  forbidden: { status: 403, type: 'forbidden', title: 'Not allowed' },
  notFound: { status: 404, type: 'not-found', title: 'Not found' },
  methodNotAllowed: { status: 405, type: 'method-not-allowed', title: 'Method not allowed' },
  conflict: { status: 409, type: 'conflict', title: 'Conflict' },
  insufficientStock: { status: 409, type: 'insufficient-stock', title: 'Not enough stock' },
  orderNotPending: { status: 409, type: 'order-not-pending', title: 'The order is no longer pending' },
  payloadTooLarge: { status: 413, type: 'payload-too-large', title: 'Request body too large' },
  unsupportedMediaType: { status: 415, type: 'unsupported-media-type', title: 'Unsupported media type' },
  validation: { status: 422, type: 'validation', title: 'Request failed validation' },
  idempotencyKeyReused: {
    status: 422,
    type: 'idempotency-key-reused',
    title: 'Idempotency key already used for another request',
  },
  orderLimit: { status: 422, type: 'order-limit', title: 'Order limit exceeded' },
  tooManyRequests: { status: 429, type: 'rate-limited', title: 'Too many requests' },
  internal: { status: 500, type: 'internal', title: 'Internal server error' },
  unavailable: { status: 503, type: 'unavailable', title: 'Service unavailable' },
} as const;

export type ProblemKind = keyof typeof PROBLEMS;

export class AppError extends Error {
  override name = 'AppError';
  constructor(
    readonly kind: ProblemKind,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? PROBLEMS[kind].title);
  }

  get status(): number {
    return PROBLEMS[this.kind].status;
  }
}

/** `value` when there is one; otherwise a 404 whose detail names what is missing. */
export function foundOr404<T>(value: T | null | undefined, detail: string): T {
  if (value === null || value === undefined) throw new AppError('notFound', detail);
  return value;
}

export function sendProblem(
  res: Response,
  kind: ProblemKind,
  detail?: string,
  extensions: Record<string, unknown> = {},
): void {
  const problem = PROBLEMS[kind];
  res
    .status(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .set('Cache-Control', 'no-store')
    .send(
      // Extensions first: a member named like a standard one (`status`) cannot replace it (RFC 9457, section 3.2).
      JSON.stringify({
        ...extensions,
        type: TYPE_BASE + problem.type,
        title: problem.title,
        status: problem.status,
        ...(detail === undefined ? {} : { detail }),
        instance: res.req.originalUrl,
        requestId: res.req.id,
      }),
    );
}

export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(res, 'notFound', `No route for ${req.method} ${req.path}`);
};

/** Body-parser errors carry a `type`; map them to the problem a client can act on. */
function fromBodyParser(error: { type?: unknown; status?: unknown }): AppError | undefined {
  switch (error.type) {
    case 'entity.parse.failed':
      return new AppError('malformedJson', 'The request body is not valid JSON.');
    case 'entity.too.large':
      return new AppError('payloadTooLarge', 'The request body is larger than this route accepts.');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError('unsupportedMediaType', 'Unsupported body encoding or charset.');
    default:
      return typeof error.status === 'number' && error.status >= 400 && error.status < 500
        ? new AppError('badRequest')
        : undefined;
  }
}

/** Seconds a client should wait before retrying when a dependency is down. */
const RETRY_AFTER_SECONDS = '5';

/**
 * Errors that mean "Postgres (or another dependency) is unreachable or shedding load", not "bug":
 * they become a 503 with Retry-After. Codes: https://www.postgresql.org/docs/15/errcodes-appendix.html
 * (08 connection exception, 53300 too many connections, 57P01-57P03 shutdown/cannot connect now,
 * 57014 statement timeout), plus node-postgres's pool and socket failures.
 */
export function isDependencyUnavailable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (code.startsWith('08') || ['53300', '57P01', '57P02', '57P03', '57014'].includes(code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE'].includes(code)) return true;
  }
  return (
    typeof message === 'string' &&
    /timeout exceeded when trying to connect|Connection terminated|connection timeout|Client has encountered a connection error/i.test(
      message,
    )
  );
}

/**
 * Postgres refusing a value the schemas let through (a NUL character in text, a number out of a
 * column's range: class 22 data exceptions; a CHECK or NOT NULL: 23514, 23502) is the client's input,
 * not our failure: a 422 without internals. A unique or foreign-key violation the domain code did not
 * expect is a 409. Fuzzing from the OpenAPI document finds exactly these.
 */
function fromPostgresInput(error: unknown): AppError | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !/^2[23][0-9A-Z]{3}$/.test(code)) return undefined;
  if (code.startsWith('22') || code === '23514' || code === '23502') {
    return new AppError(
      'validation',
      'A value was refused by the database (for example a NUL character or a number out of range).',
      {
        errors: [],
      },
    );
  }
  if (code === '23505' || code === '23503') return new AppError('conflict', 'The change conflicts with existing data.');
  return undefined;
}

export const errorHandler: ErrorRequestHandler = (error: unknown, req, res, _next) => {
  if (!(error instanceof AppError)) error = fromPostgresInput(error) ?? error;
  if (!(error instanceof AppError) && isDependencyUnavailable(error)) {
    // One line per failure at warn: the cause for operators; the client gets no internals.
    req.log.warn({ err: error }, 'dependency unavailable');
    error = new AppError(
      'unavailable',
      'A backing service is unavailable; retry shortly.',
      {},
      { 'Retry-After': RETRY_AFTER_SECONDS },
    );
  }
  const appError = error instanceof AppError ? error : fromBodyParser(error as { type?: unknown });
  if (appError) {
    for (const [name, value] of Object.entries(appError.headers)) res.set(name, value);
    sendProblem(res, appError.kind, appError.detail, appError.extensions);
    return;
  }
  req.log.error({ err: error }, 'unhandled error');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendProblem(
    res,
    'internal',
    `Something went wrong on our side. Quote request id ${String(req.id)} when reporting it.`,
  );
};
