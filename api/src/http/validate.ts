/**
 * Request validation against zod schemas. Objects are strict (unknown fields are an error, so a typo
 * is not silently ignored); failures become one 422 problem listing every field path.
 */
import type { z } from 'zod';
import { AppError } from './problem.js';

export interface FieldError {
  /** JSON-pointer-like path: `body.items.0.quantity`, `query.limit`. */
  path: string;
  message: string;
}

export function parse<T extends z.ZodType>(
  schema: T,
  value: unknown,
  location: 'body' | 'query' | 'params' | 'headers',
): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors: FieldError[] = result.error.issues.flatMap((issue) =>
    // One entry per unknown field, at its own path, so a client sees exactly which key to drop.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          path: [location, ...issue.path.map(String), key].join('.'),
          message: 'is not a known field',
        }))
      : [{ path: [location, ...issue.path.map(String)].join('.'), message: issue.message }],
  );
  throw new AppError('validation', `${errors.length} field(s) failed validation.`, { errors });
}

/** The 422 for a `cursor` query parameter that does not decode: no page of this api handed it out. */
export function invalidCursor(): AppError {
  return fieldErrors([{ path: 'query.cursor', message: 'is not a cursor this api returned' }]);
}

/** A 422 for problems found after schema validation (an unknown category, an inactive product). */
export function fieldErrors(errors: FieldError[]): AppError {
  return new AppError('validation', `${errors.length} field(s) failed validation.`, { errors });
}
