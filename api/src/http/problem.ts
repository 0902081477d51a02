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
  payloadTooLarge: { status: 413, type: 'payload-too-large', title: 'Request body too large' },
  unsupportedMediaType: { status: 415, type: 'unsupported-media-type', title: 'Unsupported media type' },
  validation: { status: 422, type: 'validation', title: 'Request failed validation' },
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
      JSON.stringify({
        type: TYPE_BASE + problem.type,
        title: problem.title,
        status: problem.status,
        ...(detail === undefined ? {} : { detail }),
        instance: res.req.originalUrl,
        requestId: res.req.id,
        ...extensions,
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

export const errorHandler: ErrorRequestHandler = (error: unknown, req, res, _next) => {
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
  sendProblem(res, 'internal', `Something went wrong on our side. Quote request id ${String(req.id)} when reporting it.`);
};
