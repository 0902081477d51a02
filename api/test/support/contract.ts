/**
 * Checks real responses against the OpenAPI document the api serves: the status is documented for
 * the operation, the media type matches, and the body validates against the documented schema
 * (JSON Schema 2020-12 with ajv, refs resolved inside the document).
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { expect } from 'vitest';

type JsonObject = Record<string, unknown>;
// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const pointer = (...parts: string[]) => parts.map((part) => part.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

export interface Contract {
  doc: JsonObject;
  /** Asserts `response` (with its already-read body text) is documented for `method path`; returns the parsed body. */
  check(method: string, pathTemplate: string, response: Response, bodyText: string): unknown;
  /** fetch + check in one: the response and its parsed body. */
  call(
    url: string,
    method: string,
    pathTemplate: string,
    init?: RequestInit,
  ): Promise<{ response: Response; body: unknown }>;
}

export function createContract(doc: JsonObject): Contract {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, 'openapi.json');
  const paths = doc.paths as Record<string, Record<string, JsonObject>>;

  const check: Contract['check'] = (method, pathTemplate, response, bodyText) => {
    const operation = paths[pathTemplate]?.[method.toLowerCase()];
    expect(operation, `${method} ${pathTemplate} is not in the OpenAPI document`).toBeDefined();
    const responses = (operation as JsonObject).responses as Record<string, JsonObject>;
    const status = String(response.status);
    expect(Object.keys(responses), `${method} ${pathTemplate}: status ${status} is not documented`).toContain(status);
    const content = responses[status]?.content as Record<string, unknown> | undefined;
    if (!content || bodyText === '') {
      if (!content) expect(bodyText, `${method} ${pathTemplate} ${status} documents no body`).toBe('');
      return undefined;
    }
    const mediaType = (response.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    expect(Object.keys(content), `${method} ${pathTemplate} ${status}: media type`).toContain(mediaType);
    const body: unknown = mediaType.endsWith('json') ? JSON.parse(bodyText) : bodyText;
    const ref = `openapi.json#/${pointer('paths', pathTemplate, method.toLowerCase(), 'responses', status, 'content', mediaType, 'schema')}`;
    const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
    const valid = validate(body);
    expect(
      valid,
      `${method} ${pathTemplate} ${status} body does not match the document: ${ajv.errorsText(validate.errors)}\n${bodyText.slice(0, 500)}`,
    ).toBe(true);
    return body;
  };

  return {
    doc,
    check,
    async call(url, method, pathTemplate, init = {}) {
      const response = await fetch(url, { ...init, method });
      const text = await response.text();
      return { response, body: check(method, pathTemplate, response, text) };
    },
  };
}

/** The document the api serves. */
export async function fetchContract(baseUrl: string): Promise<Contract> {
  const response = await fetch(`${baseUrl}/api/openapi.json`);
  return createContract((await response.json()) as JsonObject);
}
