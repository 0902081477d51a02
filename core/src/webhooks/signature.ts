/**
 * Webhook signatures. Every delivery attempt carries
 *
 *   Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
 *
 * The key is the endpoint's secret string as UTF-8 bytes (including its `whsec_` prefix). A receiver
 * recomputes the HMAC over the timestamp, a dot and the raw request body (before any JSON parsing),
 * compares in constant time, and rejects a timestamp outside its tolerance (5 minutes is usual) so a
 * captured request cannot be replayed later. The body holds the delivery id, so it is signed too.
 * Several `v1=` entries may appear during a secret rotation; any match is valid.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'Webhook-Signature';
export const SIGNATURE_VERSION = 'v1';

export function computeSignature(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export function signatureHeader(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},${SIGNATURE_VERSION}=${computeSignature(secret, timestamp, body)}`;
}

/** The receiver's check, as documented above (used by our tests; receivers may copy it). */
export function verifySignature(
  secret: string,
  header: string | undefined,
  body: string,
  options: { toleranceSeconds: number; nowSeconds?: number },
): boolean {
  if (!header) return false;
  const parts = header.split(',').map((part) => part.trim().split('=', 2) as [string, string | undefined]);
  const timestamp = Number(parts.find(([key]) => key === 't')?.[1]);
  if (!Number.isInteger(timestamp)) return false;
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1_000);
  if (Math.abs(now - timestamp) > options.toleranceSeconds) return false;
  const expected = Buffer.from(computeSignature(secret, timestamp, body), 'hex');
  return parts
    .filter(([key, value]) => key === SIGNATURE_VERSION && value !== undefined && /^[0-9a-f]{64}$/.test(value))
    .some(([, value]) => timingSafeEqual(Buffer.from(value as string, 'hex'), expected));
}
