/**
 * The webhook address policy (core/src/webhooks/address-policy.ts) and the worker's connect-time lookup
 * (webhook-http.ts). SAFETY: nothing here opens a socket or asks DNS. The policy functions are pure, and the
 * lookup is given a stub resolver; a broken filter must never turn this test into the attack it guards against.
 */
import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import {
  checkAddress,
  checkHost,
  checkWebhookUrl,
  guardedLookup,
  parseCidrList,
  statusClass,
  type ResolveAll,
} from '@stack/core';

const refused = (reason: RegExp) => ({ allowed: false, reason: expect.stringMatching(reason) as unknown });

describe('webhook address policy (pure, no connection)', () => {
  it.each([
    ['127.0.0.1', /loopback/],
    ['127.1', /loopback/],
    ['0x7f000001', /loopback/],
    ['2130706433', /loopback/],
    ['0177.0.0.1', /loopback/],
    ['127.255.255.254', /loopback/],
    ['[::1]', /loopback/],
    ['::1', /loopback/],
    ['::ffff:127.0.0.1', /loopback/],
    ['[::ffff:7f00:1]', /loopback/],
    ['10.0.0.1', /RFC 1918/],
    ['172.16.5.4', /RFC 1918/],
    ['172.31.255.255', /RFC 1918/],
    ['192.168.1.1', /RFC 1918/],
    ['::ffff:192.168.1.1', /RFC 1918/],
    ['169.254.169.254', /link-local/],
    ['0xa9fea9fe', /link-local/],
    ['fe80::1', /link-local/],
    ['fe80::1%eth0', /link-local/],
    ['fc00::1', /ULA/],
    ['fd12:3456::1', /ULA/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['100.127.255.254', /carrier-grade NAT/],
    ['0.0.0.0', /this-network/],
    ['0', /this-network/],
    ['::', /unspecified/],
    ['224.0.0.251', /multicast/],
    ['ff02::1', /multicast/],
    ['255.255.255.255', /broadcast/],
    ['192.0.2.10', /documentation/],
  ])('when the address is %s, then it is refused', (address, reason) => {
    expect(checkAddress(address)).toEqual(refused(reason));
    expect(checkHost(address)).toEqual(refused(reason));
  });

  it.each(['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111'])(
    'when the address %s is public, then it is allowed',
    (address) => {
      expect(checkAddress(address)).toEqual({ allowed: true });
    },
  );

  it.each(['postgres', 'redis', 'redis-queue', 'api', 'worker', 'nginx', 'localhost', 'app.localhost', 'db.internal'])(
    'when the host is the name %s, then it is refused without a DNS query',
    (name) => {
      expect(checkHost(name)).toEqual(refused(/private network|loopback/));
      expect(checkHost(name.toUpperCase())).toMatchObject({ allowed: false });
    },
  );

  it('when a URL spells loopback or metadata another way, then the URL check refuses it too', () => {
    for (const url of [
      'http://127.1:8080/x',
      'http://0x7f000001/',
      'http://2130706433/',
      'http://[::1]:3000/',
      'http://[::ffff:127.0.0.1]/',
      'http://169.254.169.254/latest/meta-data/',
      'https://redis-queue:6379/',
      'http://LOCALHOST./',
    ]) {
      expect(checkWebhookUrl(url), url).toMatchObject({ allowed: false });
    }
    expect(checkWebhookUrl('https://hooks.example.com/in')).toEqual({ allowed: true });
  });

  it('when WEBHOOK_ALLOWED_PRIVATE_CIDRS lists a network, then addresses inside it are admitted and no others', () => {
    const allowed = parseCidrList(' 127.0.0.1/32, 10.20.0.0/16 ,fd00:1::/32');
    expect(checkAddress('127.0.0.1', allowed)).toEqual({ allowed: true });
    expect(checkAddress('127.1', allowed)).toEqual({ allowed: true });
    expect(checkAddress('127.0.0.2', allowed)).toMatchObject({ allowed: false });
    expect(checkAddress('10.20.3.4', allowed)).toEqual({ allowed: true });
    expect(checkAddress('10.21.0.1', allowed)).toMatchObject({ allowed: false });
    expect(checkAddress('fd00:1::5', allowed)).toEqual({ allowed: true });
    expect(checkAddress('169.254.169.254', allowed)).toMatchObject({ allowed: false });
    // Service names stay refused whatever the list says: their addresses are the stack's own.
    expect(checkHost('redis', allowed)).toMatchObject({ allowed: false });
    expect(() => parseCidrList('10.0.0.0/33')).toThrow(/not an address or CIDR/);
    expect(() => parseCidrList('example.com')).toThrow(/not an address or CIDR/);
    expect(parseCidrList('').rules).toEqual([]);
  });

  it('when a failed attempt is recorded, then only a generic status class is kept', () => {
    expect([301, 404, 429, 500, 503, 600].map(statusClass)).toEqual([
      'http_3xx',
      'http_4xx',
      'http_4xx',
      'http_5xx',
      'http_5xx',
      'http_5xx',
    ]);
  });
});

describe('connect-time lookup (stub resolver, no DNS, no socket)', () => {
  const stub =
    (answers: Record<string, string[]>): ResolveAll =>
    (hostname, _options, callback) =>
      callback(
        null,
        (answers[hostname] ?? []).map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 })),
      );

  const lookUp = (resolveAll: ResolveAll, hostname: string, all: boolean, allowed?: ReturnType<typeof parseCidrList>) =>
    new Promise<{ code?: string; result?: unknown }>((resolve) => {
      guardedLookup(allowed, resolveAll)(hostname, { all }, (error, address) =>
        resolve(error ? { code: (error as NodeJS.ErrnoException).code } : { result: address }),
      );
    });

  it('when a public name now resolves to loopback or metadata (DNS rebinding), then the connection is refused', async () => {
    const resolveAll = stub({
      'rebind.example.com': ['127.0.0.1'],
      'metadata.example.com': ['169.254.169.254'],
      'mixed.example.com': ['93.184.216.34', '10.0.0.5'],
      'v6.example.com': ['::ffff:127.0.0.1'],
      'public.example.com': ['93.184.216.34'],
    });
    for (const name of ['rebind.example.com', 'metadata.example.com', 'mixed.example.com', 'v6.example.com']) {
      expect(await lookUp(resolveAll, name, true), name).toEqual({ code: 'EWEBHOOK_BLOCKED_ADDRESS' });
      expect(await lookUp(resolveAll, name, false), name).toEqual({ code: 'EWEBHOOK_BLOCKED_ADDRESS' });
    }
    expect(await lookUp(resolveAll, 'nothing.example.com', true)).toEqual({ code: 'EWEBHOOK_BLOCKED_ADDRESS' });
    expect(await lookUp(resolveAll, 'public.example.com', false)).toEqual({ result: '93.184.216.34' });
    expect(await lookUp(resolveAll, 'public.example.com', true)).toEqual({
      result: [{ address: '93.184.216.34', family: 4 }],
    });
  });

  it('when the name is a stack service, then it is refused before the resolver is asked', async () => {
    let asked = 0;
    const counting: ResolveAll = (_hostname, _options, callback) => {
      asked += 1;
      callback(null, [{ address: '93.184.216.34', family: 4 }]);
    };
    expect(await lookUp(counting, 'redis-queue', false)).toEqual({ code: 'EWEBHOOK_BLOCKED_ADDRESS' });
    expect(asked).toBe(0);
  });

  it('when the allow-list admits the address, then the lookup passes it on', async () => {
    const resolveAll = stub({ 'receiver.test': ['127.0.0.1'] });
    const allowed = parseCidrList('127.0.0.1/32');
    expect(await lookUp(resolveAll, 'receiver.test', false, allowed)).toEqual({ result: '127.0.0.1' });
  });
});
