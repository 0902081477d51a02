/**
 * One row of a catalog import: a product, keyed by its SKU, in a category given by slug. CSV gives
 * every value as text and NDJSON as JSON values; the schema accepts both spellings of numbers and
 * booleans, and nothing else. The limits mirror the CHECK constraints of db/init/001_catalog.sql, so a
 * row that passes here is never refused by Postgres.
 */
import { z } from 'zod';

const MAX_INT = 2_147_483_647;

const wholeNumber = z
  .union([z.number(), z.string().trim().regex(/^\d+$/, 'must be a whole number').transform(Number)])
  .pipe(z.number().int('must be a whole number').min(0).max(MAX_INT));

const flag = z.union([z.boolean(), z.stringbool()]);

export const importRowSchema = z.strictObject({
  sku: z.string().trim().min(1).max(64),
  category: z
    .string()
    .trim()
    .max(64)
    .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'must be a category slug (lowercase letters, digits, dashes)'),
  name: z.string().trim().min(1).max(200),
  description: z.string().max(5_000).default(''),
  price_cents: wholeNumber,
  stock: wholeNumber.default(0),
  active: flag.default(true),
});
export type ImportRow = z.infer<typeof importRowSchema>;

export const IMPORT_COLUMNS = {
  required: ['sku', 'category', 'name', 'price_cents'],
  optional: ['description', 'stock', 'active'],
} as const;

/** Validates one parsed record: the row, or a one-line reason naming each bad field. */
export function validateImportRow(record: Record<string, unknown>): { row: ImportRow } | { error: string } {
  const result = importRowSchema.safeParse(record);
  if (result.success) return { row: result.data };
  const reasons = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return `unknown field(s): ${issue.keys.join(', ')}`;
    const field = issue.path.join('.') || 'row';
    const missing = issue.code === 'invalid_type' && record[String(issue.path[0])] === undefined;
    return `${field}: ${missing ? 'is required' : issue.message}`;
  });
  return { error: reasons.join('; ') };
}
