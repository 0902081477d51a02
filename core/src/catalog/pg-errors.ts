/** Postgres error codes the domain code turns into results: https://www.postgresql.org/docs/15/errcodes-appendix.html */
interface PgError {
  code?: unknown;
  constraint?: unknown;
}

/** A unique_violation (23505), optionally on one named constraint. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const pgError = error as PgError | undefined;
  return pgError?.code === '23505' && (constraint === undefined || pgError.constraint === constraint);
}
