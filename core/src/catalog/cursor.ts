/**
 * Opaque keyset cursors: base64url of a small JSON array holding the sort key of the last row a page
 * returned. Clients must treat them as opaque; the server decodes and checks their shape, so a
 * tampered cursor is a validation error, never a SQL error.
 */
export function encodeCursor(values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/** The decoded values when the cursor has exactly the expected kinds, else undefined. */
export function decodeCursor<const K extends readonly ('int' | 'timestamp')[]>(
  cursor: string,
  kinds: K,
): { [I in keyof K]: K[I] extends 'int' ? number : string } | undefined {
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(values) || values.length !== kinds.length) return undefined;
  const ok = kinds.every((kind, index) => {
    const value: unknown = values[index];
    return kind === 'int'
      ? Number.isSafeInteger(value) && (value as number) >= 0
      : typeof value === 'string' && TIMESTAMP.test(value);
  });
  return ok ? (values as { [I in keyof K]: K[I] extends 'int' ? number : string }) : undefined;
}

/** A Postgres timestamp in UTC with microseconds, as written by `cursorTimestampSql`. */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * SQL that renders a timestamptz column for a cursor with its full microsecond precision: a JS Date
 * keeps only milliseconds, and a keyset cursor that rounds would skip or repeat rows.
 */
export const cursorTimestampSql = (column: string): string =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
