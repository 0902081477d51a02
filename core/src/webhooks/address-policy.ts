/**
 * Where a webhook may be sent: public unicast addresses only, so a registered URL cannot turn the worker into a
 * proxy into the stack's own network (SSRF). Refused: loopback, RFC 1918, CGNAT, link-local (cloud metadata at
 * 169.254.169.254), ULA, multicast, broadcast, "this network", documentation and other reserved ranges, in any
 * spelling the URL parser accepts (`127.1`, `0x7f000001`, `2130706433`, `[::1]`, `[::ffff:127.0.0.1]`), and the
 * stack's own service names. An allow-list of CIDRs (WEBHOOK_ALLOWED_PRIVATE_CIDRS) admits private receivers.
 *
 * Everything here is pure (no DNS, no socket): the api checks a URL's host at registration, and the worker checks
 * every address a name resolves to right before it connects (webhook-http.ts), so DNS rebinding gains nothing.
 */
import { BlockList, isIP } from 'node:net';

export type AddressVerdict = { allowed: true } | { allowed: false; reason: string };

/** Names of the stack's services (compose, swarm and native mode), plus the names that mean this host. */
const STACK_NAMES = new Set([
  'localhost',
  'postgres',
  'redis',
  'redis-queue',
  'redis-cache',
  'api',
  'worker',
  'nginx',
  'migrate',
  'seed',
  'k6',
]);

const BLOCKED_RANGES: ReadonlyArray<readonly [string, number, 'ipv4' | 'ipv6', string]> = [
  ['0.0.0.0', 8, 'ipv4', 'this-network address'],
  ['10.0.0.0', 8, 'ipv4', 'private address (RFC 1918)'],
  ['100.64.0.0', 10, 'ipv4', 'carrier-grade NAT address'],
  ['127.0.0.0', 8, 'ipv4', 'loopback address'],
  ['169.254.0.0', 16, 'ipv4', 'link-local address (cloud metadata lives here)'],
  ['172.16.0.0', 12, 'ipv4', 'private address (RFC 1918)'],
  ['192.0.0.0', 24, 'ipv4', 'IETF protocol assignment'],
  ['192.0.2.0', 24, 'ipv4', 'documentation address'],
  ['192.88.99.0', 24, 'ipv4', '6to4 relay anycast'],
  ['192.168.0.0', 16, 'ipv4', 'private address (RFC 1918)'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking address'],
  ['198.51.100.0', 24, 'ipv4', 'documentation address'],
  ['203.0.113.0', 24, 'ipv4', 'documentation address'],
  ['224.0.0.0', 4, 'ipv4', 'multicast address'],
  ['240.0.0.0', 4, 'ipv4', 'reserved or broadcast address'],
  ['::', 128, 'ipv6', 'unspecified address'],
  ['::1', 128, 'ipv6', 'loopback address'],
  ['64:ff9b::', 96, 'ipv6', 'NAT64 address'],
  ['64:ff9b:1::', 48, 'ipv6', 'NAT64 address'],
  ['100::', 64, 'ipv6', 'discard address'],
  ['2001::', 23, 'ipv6', 'IETF protocol assignment'],
  ['2001:db8::', 32, 'ipv6', 'documentation address'],
  ['2002::', 16, 'ipv6', '6to4 address'],
  ['fc00::', 7, 'ipv6', 'unique local address (ULA)'],
  ['fe80::', 10, 'ipv6', 'link-local address'],
  ['fec0::', 10, 'ipv6', 'site-local address'],
  ['ff00::', 8, 'ipv6', 'multicast address'],
];

/** An IP literal in canonical form (IPv4 dotted quad, IPv6 without brackets), or undefined for a name. */
export function canonicalIp(host: string): string | undefined {
  // A zone index (fe80::1%eth0) only picks the interface; the address is what the policy judges.
  const bare = (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host).replace(/%.*$/, '');
  if (isIP(bare) === 6) return ipv4FromMapped(bare) ?? new URL(`http://[${bare}]`).hostname.slice(1, -1);
  let hostname: string;
  try {
    // The WHATWG host parser is what fetch and http.request use: it turns 127.1, 0x7f000001, 2130706433 and
    // 0177.0.0.1 into 127.0.0.1, so the policy sees the address a connection would really go to.
    hostname = new URL(`http://${bare.includes(':') ? `[${bare}]` : bare}/`).hostname;
  } catch {
    return undefined;
  }
  if (isIP(hostname) === 4) return hostname;
  if (hostname.startsWith('[')) return canonicalIp(hostname);
  return undefined;
}

/** a.b.c.d when `ip` is an IPv4-mapped (::ffff:0:0/96) or IPv4-compatible (::/96) IPv6 address. */
function ipv4FromMapped(ip: string): string | undefined {
  const expanded = new URL(`http://[${ip}]`).hostname.slice(1, -1).toLowerCase();
  const match = /^::(?:ffff:)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(expanded);
  if (!match) return undefined;
  const high = parseInt(match[1] as string, 16);
  const low = parseInt(match[2] as string, 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** Parses `10.0.0.0/8, fd00::/8, 127.0.0.1` (a bare address is a /32 or /128); throws on a bad entry. */
export function parseCidrList(value: string): BlockList {
  const list = new BlockList();
  for (const entry of value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const [address = '', prefix] = entry.split('/');
    const ip = canonicalIp(address);
    const family = ip === undefined ? 0 : isIP(ip);
    const bits = prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix);
    if (ip === undefined || family === 0 || !/^\d{1,3}$/.test(String(bits)) || bits > (family === 4 ? 32 : 128)) {
      throw new Error(`"${entry}" is not an address or CIDR like 10.0.0.0/8 or fd00::/8`);
    }
    list.addSubnet(ip, bits, family === 4 ? 'ipv4' : 'ipv6');
  }
  return list;
}

const blocked = BLOCKED_RANGES.map(([network, prefix, family, reason]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return { list, family, reason };
});

/**
 * Whether a webhook may connect to `ip` (any spelling of an IP literal). `allowed` is the parsed
 * WEBHOOK_ALLOWED_PRIVATE_CIDRS: an address inside it is admitted even when private.
 */
export function checkAddress(ip: string, allowed?: BlockList): AddressVerdict {
  const address = canonicalIp(ip);
  if (address === undefined) return { allowed: false, reason: `"${ip}" is not an IP address` };
  const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
  if (allowed?.check(address, family)) return { allowed: true };
  for (const range of blocked) {
    if (range.family === family && range.list.check(address, family)) {
      return { allowed: false, reason: `${address}: ${range.reason}` };
    }
  }
  return { allowed: true };
}

/**
 * The registration-time check of a URL's host: IP literals by checkAddress, names against the stack's own
 * service names (and `localhost`, `*.localhost`, `*.local`, `*.internal`, single-label names, which only
 * resolve inside a private network). A public-looking name is admitted here; the worker checks what it
 * resolves to at connect time.
 */
export function checkHost(host: string, allowed?: BlockList): AddressVerdict {
  const ip = canonicalIp(host);
  if (ip !== undefined) return checkAddress(ip, allowed);
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) {
    return allowed?.check('127.0.0.1', 'ipv4') ? { allowed: true } : { allowed: false, reason: `${host} is loopback` };
  }
  if (STACK_NAMES.has(name) || !name.includes('.') || /\.(local|internal|localdomain|home\.arpa)$/.test(name)) {
    return { allowed: false, reason: `${host} names a host inside a private network` };
  }
  return { allowed: true };
}

/** checkHost on a URL's host. */
export function checkWebhookUrl(url: string, allowed?: BlockList): AddressVerdict {
  return checkHost(new URL(url).hostname, allowed);
}
