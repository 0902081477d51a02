import { describe, expect, it } from 'vitest';
import { computeSignature, signatureHeader, verifySignature, webhookRetryDelay } from '@stack/core';

const secret = 'whsec_test-secret';
const body = '{"id":"d1","type":"order.created","data":{"orderId":1}}';

describe('webhook signature', () => {
  it('when a receiver recomputes HMAC-SHA256 over "<t>.<body>", then it matches the header', async () => {
    const { createHmac } = await import('node:crypto');
    const header = signatureHeader(secret, 1_700_000_000, body);
    const expected = createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex');
    expect(header).toBe(`t=1700000000,v1=${expected}`);
    expect(verifySignature(secret, header, body, { toleranceSeconds: 300, nowSeconds: 1_700_000_100 })).toBe(true);
  });

  it('when the body, the secret or the timestamp is changed, then verification fails', () => {
    const header = signatureHeader(secret, 1_700_000_000, body);
    const check = (s: string, h: string, b: string) =>
      verifySignature(s, h, b, { toleranceSeconds: 300, nowSeconds: 1_700_000_000 });
    expect(check(secret, header, `${body} `)).toBe(false);
    expect(check('whsec_other', header, body)).toBe(false);
    expect(check(secret, header.replace('t=1700000000', 't=1700000001'), body)).toBe(false);
    expect(check(secret, 'garbage', body)).toBe(false);
  });

  it('when the timestamp is older than the tolerance, then a valid signature is still refused (replay)', () => {
    const header = signatureHeader(secret, 1_700_000_000, body);
    expect(verifySignature(secret, header, body, { toleranceSeconds: 300, nowSeconds: 1_700_000_301 })).toBe(false);
  });

  it('when several v1 entries are sent (secret rotation), then any matching one is accepted', () => {
    const header = `t=1700000000,v1=${'0'.repeat(64)},v1=${computeSignature(secret, 1_700_000_000, body)}`;
    expect(verifySignature(secret, header, body, { toleranceSeconds: 300, nowSeconds: 1_700_000_000 })).toBe(true);
  });
});

describe('webhook retry delay', () => {
  const backoff = { baseMs: 1_000, maxMs: 60_000 };

  it('when attempts fail in a row, then the step doubles from the base', () => {
    const top = (n: number) => webhookRetryDelay(n, backoff, () => 1);
    expect([1, 2, 3, 4].map(top)).toEqual([1_000, 2_000, 4_000, 8_000]);
  });

  it('when the step would pass the cap, then it stays at the cap', () => {
    expect(webhookRetryDelay(30, backoff, () => 1)).toBe(60_000);
  });

  it('when jitter is applied, then the delay lies between half the step and the step', () => {
    expect(webhookRetryDelay(3, backoff, () => 0)).toBe(2_000);
    for (let i = 0; i < 100; i += 1) {
      const delay = webhookRetryDelay(3, backoff);
      expect(delay).toBeGreaterThanOrEqual(2_000);
      expect(delay).toBeLessThanOrEqual(4_000);
    }
  });
});
