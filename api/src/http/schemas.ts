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

/** A positive integer id in a path or query string (`^[1-9][0-9]*$`), as a number. */
export const idString = (max: number = 2_147_483_647) =>
  z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/, 'must be a positive integer')
    .transform(Number)
    .pipe(z.number().int().max(max, `must be at most ${max}`));

/** A non-negative integer in a query string, as a number. */
export const uintString = (max: number) =>
  z
    .string()
    .regex(/^[0-9]{1,10}$/, 'must be a non-negative integer')
    .transform(Number)
    .pipe(z.number().int().max(max, `must be at most ${max}`));

export const idParams = z.strictObject({ id: idString() });

/** Page size of every list: 1..100, default 20. */
export const limitQuery = z
  .string()
  .regex(/^[0-9]{1,3}$/, 'must be an integer from 1 to 100')
  .transform(Number)
  .pipe(z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100'))
  .optional()
  .transform((value) => value ?? 20);

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
