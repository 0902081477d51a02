/**
 * Schemas shared by the feature routes. Every request and response body schema is named (`named`), so the
 * OpenAPI document lists it once under components/schemas and refers to it.
 */
import { z } from 'zod';

/**
 * Names a schema for the OpenAPI document's components (zod's global registry, which also holds
 * the `.describe()` texts). Use the returned schema.
 */
export function named<T extends z.ZodType>(id: string, schema: T, description?: string): T {
  return schema.meta(description === undefined ? { id } : { id, description });
}

/** The bounds of every integer read from a path or query string, for the OpenAPI document (openapi.ts). */
export const urlIntegers = z.registry<{ minimum: number; maximum: number }>();

/**
 * An integer from `minimum` to `maximum` in a path or query string (decimal digits, optionally `.0`: no sign,
 * exponent, space or hex), as a number. The OpenAPI document shows it as `type: integer` with these very bounds (through
 * `urlIntegers`), so what the document allows and what validation accepts cannot drift apart.
 */
export function urlInteger(minimum: number, maximum: number) {
  const schema = z
    .string()
    // JSON Schema counts 1.0 as an integer (its value is one), and so do schema-driven clients: accepted.
    .regex(/^[0-9]{1,16}(\.0+)?$/, `must be an integer from ${minimum} to ${maximum}`)
    .transform(Number)
    .pipe(z.number().int().min(minimum, `must be at least ${minimum}`).max(maximum, `must be at most ${maximum}`));
  urlIntegers.add(schema, { minimum, maximum });
  return schema;
}

/** Largest value of a Postgres `integer` column (ids, prices). */
export const INT4_MAX = 2_147_483_647;

/** A positive integer id in a path or query string, as a number. */
export const idString = (max: number = INT4_MAX) => urlInteger(1, max);

/** A non-negative integer in a query string, as a number. */
export const uintString = (max: number) => urlInteger(0, max);

export const idParams = z.strictObject({ id: idString() });

/** Page size of every list: 1..100, default 20 (documented as the parameter's `default`). */
export const limitQuery = urlInteger(1, 100).default(20);

/** Characters as JSON Schema counts them for `maxLength` (code points; zod's `.max` counts UTF-16 units). */
const codePoints = (text: string): number => {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
};

// Written as escapes in the pattern (the document shows `\u0000`, not a raw NUL byte).
const NUL = '\\u0000';
const WITHOUT_NUL = new RegExp(`^[^${NUL}]*$`);

/**
 * Text for a `text` column: at most `max` characters (code points, as the document's `maxLength` says) and no NUL,
 * which Postgres cannot store (the pattern says so in the document).
 */
export const storedText = (max: number) =>
  z
    .string()
    .refine((text) => codePoints(text) <= max, `must be at most ${max} characters`)
    .regex(WITHOUT_NUL, 'must not contain NUL (U+0000)')
    .meta({ maxLength: max });

/**
 * No NUL, and one character that String.prototype.trim keeps: ECMAScript's white space and line terminators spelled
 * out, because `\s` means another set in other regex dialects (Python's adds U+001C-U+001F and U+0085), and
 * clients and fuzzers read this pattern with theirs.
 */
const TRIMMED = '\\t\\n\\x0b\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';
const VISIBLE_TEXT = new RegExp(`^[^${NUL}]*[^${NUL}${TRIMMED}][^${NUL}]*$`);

/**
 * Text that must hold a visible character, `max` characters at most as sent, stored trimmed. The checks run on the
 * text as sent, so the document's `maxLength` and `pattern` say exactly what is accepted (trimming first would
 * refuse "  " that the document allows, and accept 201 characters with a trailing space that it refuses).
 */
export const nonBlankText = (max: number) =>
  z
    .string()
    .refine((text) => codePoints(text) <= max, `must be at most ${max} characters`)
    .regex(VISIBLE_TEXT, 'must hold a visible character and no NUL (U+0000)')
    .meta({ minLength: 1, maxLength: max })
    .trim();

export const cursorQuery = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor returned by a previous page')
  .optional();

export const timestamp = z.iso.datetime();

export const problemSchema = named(
  'Problem',
  z
    .object({
      type: z.string().describe('Stable URI naming the kind of problem; switch on this.'),
      title: z.string(),
      status: z.number().int(),
      detail: z.string().optional(),
      instance: z.string().optional().describe('The request path (absent in problems the edge, nginx, generates).'),
      requestId: z
        .string()
        .describe('Quote it when reporting a problem: it ties the edge log and the api logs together.'),
      errors: z
        .array(z.strictObject({ path: z.string(), message: z.string() }))
        .optional()
        .describe('Validation problems: one entry per field, e.g. `body.items.0.quantity`.'),
    })
    .catchall(z.unknown()),
  'RFC 9457 problem details (application/problem+json).',
);

/** An id this api generated (reports, imports, deliveries) in a path. */
export const uuidParams = z.strictObject({ id: z.uuid('must be an id this api returned') });

/** Where a background job (a report, an import) stands. */
export const jobStatus = z.enum(['queued', 'running', 'completed', 'failed']);
