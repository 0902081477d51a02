/**
 * Routes are declared once, as data: method, path, who may call it, the zod schemas of its params,
 * query, headers and body, its responses, and the handler. From that one declaration:
 *   - `mountModules` builds the Express router (authentication, role check, `Cache-Control: private,
 *     no-store` for every route that is not public, body parser with its limit, 415 for other media
 *     types, validation to 422 with field paths, 405 with Allow for the other methods of a known path);
 *   - openapi.ts builds the OpenAPI 3.1 document, so the documentation cannot drift from the code.
 * Add a feature by exporting an `ApiModule` from its folder (api/src/<feature>/routes.ts) and listing it in app.ts.
 */
import express, { Router, type Express, type Request, type RequestHandler, type Response } from 'express';
import type { z } from 'zod';
import { requireRole, type Authenticator, type Role } from './auth.js';
import { PRIVATE_CACHE_CONTROL } from './cache-control.js';
import { AppError } from './problem.js';
import { parse } from './validate.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Who may call a route: anyone, or a bearer token of one of these roles. */
export type Access = 'public' | readonly Role[];

export interface ResponseSpec {
  description: string;
  /** A schema named with `named()` (http/schemas.ts: an id in zod's global registry), or none for an empty body. */
  schema?: z.ZodType;
  /** Defaults: application/json, or application/problem+json for statuses >= 400. */
  contentType?: string;
  headers?: Record<string, { description: string; schema: { type: 'string' | 'integer' } }>;
}

/** A request body the handler reads itself; its 413 and 415 are documented for it. */
export interface RawBody {
  /** Media types accepted, the first being the main one. */
  contentTypes: string[];
  description: string;
}

export interface RouteInput<P, Q, H, B> {
  params: P;
  query: Q;
  headers: H;
  body: B;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteDefinition<
  P extends z.ZodType | undefined,
  Q extends z.ZodType | undefined,
  H extends z.ZodType | undefined,
  B extends z.ZodType | undefined,
> {
  method: Method;
  /** Express path relative to the module prefix, e.g. `/products/:id`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  access: Access;
  params?: P;
  query?: Q;
  /** Request headers to validate; keys in lower case. */
  headers?: H;
  body?: B;
  /** Body size limit for the JSON parser (routes with a body), e.g. '16kb'. */
  bodyLimit?: string;
  /**
   * Documents a request body the handler reads itself (a streamed upload, CSV): no parsing is added.
   * Routes with a JSON `body` schema need nothing here.
   */
  rawBody?: RawBody;
  /**
   * What a request that fits every schema can still be refused for with a 422: rules on the state of other rows
   * (an inactive category), between fields (`from` after `to`) or on a cursor's content, that JSON Schema cannot
   * say. It is added to the documented 422 and marked for tools (openapi.ts, RULES_BEYOND_SCHEMA).
   */
  rulesBeyondSchema?: string;
  /**
   * Route-specific responses; the common problems (401, 403, 422, 400, 413, 415, 429, 500, 503) are added for you.
   * Declare any other status the handler answers (404, 409, a 400 of its own): the fuzz test fails on one missing.
   * A route that is not public answers `Cache-Control: private, no-store` unless its handler sets another.
   */
  responses: Record<number, ResponseSpec>;
  handler: (input: RouteInput<Out<P>, Out<Q>, Out<H>, Out<B>>, req: Request, res: Response) => Promise<void> | void;
}

/** A route with its types erased, as modules hold them. */
export interface ApiRoute {
  method: Method;
  path: string;
  operationId: string;
  summary: string;
  description?: string | undefined;
  tag: string;
  access: Access;
  params?: z.ZodType | undefined;
  query?: z.ZodType | undefined;
  headers?: z.ZodType | undefined;
  body?: z.ZodType | undefined;
  bodyLimit: string;
  rawBody?: RawBody | undefined;
  rulesBeyondSchema?: string | undefined;
  responses: Record<number, ResponseSpec>;
  handler: (input: RouteInput<unknown, unknown, unknown, unknown>, req: Request, res: Response) => Promise<void> | void;
}

export interface ApiModule {
  /** Mount path, e.g. `/api/v1` ('' for the root). */
  prefix: string;
  routes: ApiRoute[];
  /**
   * Whole sub-applications mounted under a path (a queue UI): documented as one GET operation
   * returning HTML, guarded by `access`; their inner routes are theirs.
   */
  mounts?: Mount[];
}

export interface Mount {
  path: string;
  summary: string;
  tag: string;
  access: Access;
  /** Statuses the mount answers beyond 200 and what `access` implies (e.g. its own 401/403). */
  responses?: Record<number, ResponseSpec>;
  handler: RequestHandler;
}

export function defineRoute<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  H extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(definition: RouteDefinition<P, Q, H, B>): ApiRoute {
  return { ...definition, bodyLimit: definition.bodyLimit ?? '16kb' } as ApiRoute;
}

/**
 * For a module whose routes share a tag and who may call them (every admin module): says it once, and
 * declares each route like `defineRoute` without those two fields.
 */
export function routeGroup(shared: { tag: string; access: Access }) {
  return <
    P extends z.ZodType | undefined = undefined,
    Q extends z.ZodType | undefined = undefined,
    H extends z.ZodType | undefined = undefined,
    B extends z.ZodType | undefined = undefined,
  >(
    definition: Omit<RouteDefinition<P, Q, H, B>, 'tag' | 'access'>,
  ): ApiRoute => defineRoute<P, Q, H, B>({ ...definition, ...shared });
}

const METHODS_WITH_BODY = new Set<Method>(['post', 'put', 'patch']);

/** What a caller sees after authenticating is theirs alone: no shared cache may keep it. */
const personal: RequestHandler = (_req, res, next) => {
  res.set('Cache-Control', PRIVATE_CACHE_CONTROL);
  next();
};

/**
 * Mounts every module on `app`: one router per prefix holding all its routes, then a 405 with Allow
 * for the other methods of each known path (after all routes, so two modules may share a path).
 */
export function mountModules(
  app: Express,
  modules: readonly ApiModule[],
  authenticator: Authenticator,
  options: { writeLimit?: RequestHandler } = {},
): void {
  const guard = (access: Access): RequestHandler[] =>
    access === 'public' ? [] : [authenticator.middleware, requireRole(...access), personal];
  // Writes with a token are limited per token (http/write-limit.ts), after authentication and before the body is read.
  const writeGuard = (route: ApiRoute): RequestHandler[] =>
    route.access !== 'public' && route.method !== 'get' && options.writeLimit ? [options.writeLimit] : [];
  // The metrics label, set before anything can fail: after an error Express has already unwound
  // req.baseUrl, so the label cannot be rebuilt when the response finishes.
  const label =
    (template: string): RequestHandler =>
    (_req, res, next) => {
      res.locals.routeTemplate = template;
      next();
    };
  const prefixes = [...new Set(modules.map((module) => module.prefix))];
  for (const prefix of prefixes) {
    const router = Router();
    const methodsByPath = new Map<string, Set<string>>();
    for (const module of modules.filter((candidate) => candidate.prefix === prefix)) {
      for (const mount of module.mounts ?? []) {
        // The mount's own path is documented as a GET: another method there is a 405 (before any guard, like
        // the routes' 405), whatever the sub-application below does with its inner paths.
        router.all(mount.path, label(prefix + mount.path), (req, _res, next) => {
          if (req.method === 'GET' || req.method === 'HEAD') return next();
          throw methodNotAllowed(req.method, 'GET, HEAD');
        });
        router.use(mount.path, label(`${prefix}${mount.path}/*`), ...guard(mount.access), mount.handler);
      }
      for (const route of module.routes) {
        const handlers = [label(prefix + route.path), ...guard(route.access), ...writeGuard(route)];
        if (route.body && METHODS_WITH_BODY.has(route.method)) handlers.push(...jsonBody(route.bodyLimit));
        handlers.push(async (req, res) => {
          const input = {
            params: route.params ? parse(route.params, req.params, 'params') : undefined,
            query: route.query ? parse(route.query, req.query, 'query') : undefined,
            headers: route.headers ? parse(route.headers, pickHeaders(req, route.headers), 'headers') : undefined,
            body: route.body ? parse(route.body, req.body, 'body') : undefined,
          };
          await route.handler(input, req, res);
        });
        router[route.method](route.path, ...handlers);
        const methods = methodsByPath.get(route.path) ?? new Set<string>();
        methods.add(route.method.toUpperCase());
        if (route.method === 'get') methods.add('HEAD');
        methodsByPath.set(route.path, methods);
      }
    }
    for (const [path, methods] of methodsByPath) {
      const allow = [...methods].sort().join(', ');
      router.all(path, label(prefix + path), (req) => {
        throw methodNotAllowed(req.method, allow);
      });
    }
    app.use(prefix || '/', router);
  }
}

function methodNotAllowed(method: string, allow: string): AppError {
  return new AppError('methodNotAllowed', `${method} is not allowed here; use ${allow}.`, {}, { Allow: allow });
}

/**
 * JSON bodies only: a body in another media type is a 415 (before any parsing), malformed JSON a
 * 400, over `limit` a 413 (see problem.ts). A request without a body leaves `req.body` undefined,
 * which the route's schema reports as a 422.
 */
function jsonBody(limit: string): RequestHandler[] {
  return [
    (req, _res, next) => {
      if (req.readable && hasBody(req) && !req.is('application/json')) {
        throw new AppError(
          'unsupportedMediaType',
          'Send the body as application/json.',
          {},
          { 'Accept-Post': 'application/json' },
        );
      }
      next();
    },
    express.json({ limit, strict: true, type: 'application/json' }),
  ];
}

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** Only the headers the schema names, so validation of an object schema does not trip over every other header. */
function pickHeaders(req: Request, schema: z.ZodType): Record<string, unknown> {
  const shape = (schema as unknown as { shape?: Record<string, unknown> }).shape ?? {};
  const picked: Record<string, unknown> = {};
  for (const name of Object.keys(shape)) picked[name] = req.headers[name];
  return picked;
}

/** Express path parameters (`:id`) as OpenAPI templates (`{id}`). */
export function openApiPath(prefix: string, path: string): string {
  return `${prefix}${path}`.replace(/:([A-Za-z0-9_]+)/g, '{$1}') || '/';
}
