import { createHmac, randomBytes } from 'node:crypto';

/**
 * API tokens are 32 random bytes, base64url, with a prefix that makes a leaked token easy to spot
 * in logs and by secret scanners. Only HMAC-SHA256(pepper, token) is stored: a copy of the table
 * alone does not authenticate anyone, and the pepper lives outside the database.
 */
export const TOKEN_PREFIX = 'stk_';

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string, pepper: string): Buffer {
  return createHmac('sha256', pepper).update(token).digest();
}
