/**
 * The OpenAPI 3.1 document, generated from the route declarations (route.ts) and their zod schemas
 * (z.toJSONSchema, JSON Schema 2020-12 as OpenAPI 3.1 uses). Named schemas become
 * components/schemas; the problems every route can return are added from what the route declares
 * (authentication, inputs, a body). Built once per app.
 */
import { z } from 'zod';
import { PROBLEM_CONTENT_TYPE, PROBLEMS } from './problem.js';
import { openApiPath, type Access, type ApiModule, type ApiRoute, type ResponseSpec } from './route.js';
import { urlIntegers } from './schemas.js';

type JsonObject = Record<string, unknown>;

const COMPONENT_PREFIX = '#/components/schemas/';
/** A named schema whose request form differs from its response form (a field with a default) gets a second component. */
const INPUT_SUFFIX = 'Input';
/**
 * Named schemas whose request form has a component of its own (`<id>Input`): set by `componentSchemas` from zod's
 * global registry, the same for every document this process builds.
 */
let inputForms = new Set<string>();

/**
 * Where zod's JSON Schema needs our words: an integer read from a URL (a string piped into a bounded number) is
 * documented as the integer it is, with the bounds validation applies (http/schemas.ts, urlInteger); a field with
 * a default shows it on the request side too.
 */
function override(ctx: { zodSchema: z.core.$ZodType; jsonSchema: JsonObject }): void {
  const bounds = urlIntegers.get(ctx.zodSchema as z.ZodType);
  if (bounds) {
    for (const key of Object.keys(ctx.jsonSchema)) if (key !== 'description') delete ctx.jsonSchema[key];
    Object.assign(ctx.jsonSchema, { type: 'integer', ...bounds });
  }
  const def = ctx.zodSchema._zod.def;
  if (def.type === 'default' && ctx.jsonSchema.default === undefined) {
    ctx.jsonSchema.default = (def as z.core.$ZodDefaultDef).defaultValue;
  }
}

export interface OpenApiDocument extends JsonObject {
  openapi: '3.1.0';
  paths: Record<string, Record<string, JsonObject>>;
  components: { schemas: Record<string, JsonObject>; securitySchemes: JsonObject };
}

export function buildOpenApiDocument(
  modules: readonly ApiModule[],
  info: { title: string; version: string; description: string },
): OpenApiDocument {
  const schemas = componentSchemas();

  const paths: OpenApiDocument['paths'] = {};
  for (const module of modules) {
    for (const route of module.routes) {
      const path = openApiPath(module.prefix, route.path);
      (paths[path] ??= {})[route.method] = operation(route, path);
    }
    for (const mount of module.mounts ?? []) {
      const path = openApiPath(module.prefix, mount.path);
      (paths[path] ??= {}).get = {
        operationId: `ui${mount.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
        summary: mount.summary,
        description: 'A user interface with routes of its own below this path.',
        tags: [mount.tag],
        ...security(mount.access),
        responses: {
          200: { description: 'The page.', content: { 'text/html': { schema: { type: 'string' } } } },
          ...authProblems(mount.access),
          ...Object.fromEntries(
            Object.entries(mount.responses ?? {}).map(([status, spec]) => [status, response(Number(status), spec)]),
          ),
          500: response(500, { description: 'Unexpected error; the body carries only the request id.' }),
        },
      };
    }
  }

  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API token issued by an admin (POST /api/v1/admin/users/{id}/tokens).',
        },
      },
    },
  };
}

/**
 * Every named schema as a component, in its response form (io: output). A schema read in requests whose input form
 * differs (a field with a default is optional when sent and always present when answered), or that refers to one
 * that does, also gets `<id>Input`, which request bodies refer to.
 */
function componentSchemas(): Record<string, JsonObject> {
  const generate = (io: 'input' | 'output', suffix: string) =>
    (
      z.toJSONSchema(z.globalRegistry, {
        io,
        unrepresentable: 'any',
        override,
        uri: (id) => COMPONENT_PREFIX + id + suffix,
      }) as { schemas: Record<string, JsonObject> }
    ).schemas;
  // Input refs carry a marker no schema id holds until the components are named.
  const output = generate('output', '');
  const input = generate('input', '~input');
  const refsIn = (schema: JsonObject) =>
    [...JSON.stringify(schema).matchAll(/"#\/components\/schemas\/([^"]+)~input"/g)].map((match) => match[1] ?? '');
  const asOutput = (schema: JsonObject) =>
    JSON.stringify(schema).replace(/("#\/components\/schemas\/[^"]+)~input"/g, '$1"');
  const differ = new Set(Object.keys(input).filter((id) => asOutput(input[id] ?? {}) !== JSON.stringify(output[id])));
  // A schema that refers to a differing one differs too; until nothing changes.
  for (let size = 0; size !== differ.size;) {
    size = differ.size;
    for (const id of Object.keys(input)) if (refsIn(input[id] ?? {}).some((ref) => differ.has(ref))) differ.add(id);
  }
  inputForms = differ;
  const schemas: Record<string, JsonObject> = {};
  for (const [id, schema] of Object.entries(output)) schemas[id] = withoutDialect(schema);
  for (const id of [...differ].sort()) {
    const json = JSON.stringify(withoutDialect(input[id] ?? {})).replace(
      /"#\/components\/schemas\/([^"]+)~input"/g,
      (_match, ref: string) => `"${componentRef(ref, 'input')}"`,
    );
    schemas[id + INPUT_SUFFIX] = JSON.parse(json) as JsonObject;
  }
  return schemas;
}

const componentRef = (id: string, io: 'input' | 'output'): string =>
  COMPONENT_PREFIX + id + (io === 'input' && inputForms.has(id) ? INPUT_SUFFIX : '');

function operation(route: ApiRoute, path: string): JsonObject {
  const parameters = [
    ...parametersOf(route.params, 'path'),
    ...parametersOf(route.query, 'query'),
    ...parametersOf(route.headers, 'header'),
  ];
  const responses: Record<string, JsonObject> = {};
  const conditional = 304 in route.responses;
  for (const [status, spec] of Object.entries(route.responses)) {
    responses[status] = response(Number(status), spec, conditional);
  }
  const common = commonProblems(route, path);
  for (const [status, spec] of Object.entries(common)) responses[status] ??= response(Number(status), spec);
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    ...security(route.access),
    ...(route.rulesBeyondSchema ? { [RULES_BEYOND_SCHEMA]: route.rulesBeyondSchema } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(route.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: schemaRef(route.body, 'input') } } } }
      : route.rawBody
        ? {
            requestBody: {
              required: true,
              description: route.rawBody.description,
              content: Object.fromEntries(
                // An empty body is a 400 the route declares; any other bytes are read by the handler.
                route.rawBody.contentTypes.map((contentType) => [
                  contentType,
                  { schema: { type: 'string', minLength: 1 } },
                ]),
              ),
            },
          }
        : {}),
    responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b))),
  };
}

function security(access: Access): JsonObject {
  return access === 'public' ? { security: [] } : { security: [{ bearerAuth: [] }], 'x-roles': [...access] };
}

function authProblems(access: Access): Record<number, JsonObject> {
  if (access === 'public') return {};
  return {
    401: response(401, { description: 'Missing, malformed, unknown, revoked or expired bearer token.' }),
    403: response(403, { description: `The token's role is not one of: ${access.join(', ')}.` }),
  };
}

/** The problems every route of this kind can return, beyond the ones it declares itself. */
function commonProblems(route: ApiRoute, path: string): Record<number, ResponseSpec> {
  const problems: Record<number, ResponseSpec> = {};
  if (route.access !== 'public') {
    problems[401] = { description: 'Missing, malformed, unknown, revoked or expired bearer token.' };
    problems[403] = { description: `The token's role is not one of: ${route.access.join(', ')}.` };
  }
  if (route.body) {
    problems[400] = { description: 'The body is not valid JSON.' };
    problems[413] = { description: `The body is larger than ${route.bodyLimit}.` };
    problems[415] = { description: 'The body is not application/json.' };
  }
  if (route.rawBody) {
    problems[413] = { description: 'The body is larger than this route accepts.' };
    problems[415] = { description: `The body is not one of: ${route.rawBody.contentTypes.join(', ')}.` };
  }
  if (route.params || route.query || route.headers || route.body || route.rulesBeyondSchema) {
    problems[422] = {
      description:
        'A parameter, header or body field failed validation; `errors` lists each field path.' +
        (route.rulesBeyondSchema
          ? ` Also refused with 422, though the schemas allow it: ${route.rulesBeyondSchema}`
          : ''),
    };
  }
  if (path.startsWith('/api/')) {
    problems[429] = {
      description:
        route.access !== 'public' && route.method !== 'get'
          ? 'Rate limited: per address at the edge (nginx), or per token for writes (the api); see Retry-After.'
          : 'Rate limited at the edge (nginx); see Retry-After.',
    };
  }
  problems[500] = { description: 'Unexpected error; the body carries only the request id.' };
  // The feature routes read Postgres; liveness and the documentation never touch a dependency.
  if (path.startsWith('/api/v1/')) {
    problems[503] = { description: 'A backing service (Postgres) is unavailable; retry after Retry-After seconds.' };
  }
  return problems;
}

function response(status: number, spec: ResponseSpec, conditional = false): JsonObject {
  const problem = status >= 400;
  const contentType = spec.contentType ?? (problem ? PROBLEM_CONTENT_TYPE : 'application/json');
  const schema = spec.schema
    ? schemaRef(spec.schema, 'output')
    : problem
      ? { $ref: `${COMPONENT_PREFIX}Problem` }
      : undefined;
  const headers: Record<string, JsonObject> = { ...(spec.headers ?? {}) };
  if (status === 503 || status === 429)
    headers['Retry-After'] = { description: 'Seconds to wait.', schema: { type: 'integer' } };
  if (conditional && (status === 200 || status === 304)) {
    headers.ETag = {
      description: 'Validator: send it back in If-None-Match to get a 304.',
      schema: { type: 'string' },
    };
  }
  return {
    description: spec.description,
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    ...(schema ? { content: { [contentType]: { schema } } } : {}),
  };
}

function schemaRef(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const id = z.globalRegistry.get(schema)?.id;
  if (id !== undefined) return { $ref: componentRef(id, io) };
  return inline(schema, io);
}

/**
 * An unnamed schema in place. Named schemas inside it come out as `#/$defs/<id>`; they point at
 * components instead (every named schema is there), so the document has one copy of each.
 */
function inline(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const { $defs: _defs, ...json } = withoutDialect(
    z.toJSONSchema(schema, { io, unrepresentable: 'any', override }) as JsonObject,
  );
  return JSON.parse(
    JSON.stringify(json).replace(/"#\/\$defs\/([^"]+)"/g, (_match, id: string) => `"${componentRef(id, io)}"`),
  ) as JsonObject;
}

/** Parameters from a zod object schema: one per key, required unless the field accepts undefined. */
function parametersOf(schema: z.ZodType | undefined, location: 'path' | 'query' | 'header'): JsonObject[] {
  if (!schema) return [];
  const shape = (schema as unknown as { shape?: Record<string, z.ZodType> }).shape;
  if (!shape) throw new Error(`${location} schema must be a z.object`);
  return Object.entries(shape).map(([name, field]) => {
    const { description, ...json } = inline(field, 'input');
    return {
      name,
      in: location,
      required: location === 'path' || !field.safeParse(undefined).success,
      ...(typeof description === 'string' ? { description } : {}),
      schema: json,
    };
  });
}

function withoutDialect(schema: JsonObject): JsonObject {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

/**
 * Operation extension holding what a schema-valid request can still be refused for (`rulesBeyondSchema` in
 * route.ts): tools that send schema-valid data (the fuzz test) expect a 422 there and nowhere else.
 */
export const RULES_BEYOND_SCHEMA = 'x-rules-beyond-schema';

/** Every problem `type` URI the api can send, for the docs page. */
export const PROBLEM_TYPES = Object.values(PROBLEMS);
