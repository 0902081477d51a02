/**
 * One webhook POST, with the address policy (address-policy.ts) applied at connect time: a name is resolved by a
 * lookup that refuses the connection when any address it resolves to is refused, and an IP literal (which Node
 * connects to without a lookup) is checked before the request. So a name that resolved to a public address at
 * registration and to 127.0.0.1 now (DNS rebinding) is still refused. Redirects are never followed.
 *
 * Failures come back as a generic class (WebhookFailureClass), never the raw cause: the class is what is stored
 * and shown to admins, so an error message cannot be used to probe the network behind the worker.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { BlockList, LookupFunction } from 'node:net';
import { canonicalIp, checkAddress, checkHost } from './address-policy.js';

export type WebhookFailureClass =
  | 'blocked_address'
  | 'dns_failure'
  | 'connect_refused'
  | 'connect_unreachable'
  | 'connection_reset'
  | 'timeout'
  | 'tls_error'
  | 'network_error'
  | `http_${1 | 3 | 4 | 5}xx`;

export class WebhookTransportError extends Error {
  override name = 'WebhookTransportError';
  constructor(readonly failureClass: WebhookFailureClass) {
    super(failureClass);
  }
}

const BLOCKED = 'EWEBHOOK_BLOCKED_ADDRESS';

/** Every address of a name (dns.lookup with all: true); replaceable so a test can answer without DNS. */
export type ResolveAll = (
  hostname: string,
  options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

const resolveWithDns: ResolveAll = (hostname, options, callback) =>
  dnsLookup(hostname, { ...options, all: true }, callback);

/** A dns.lookup that fails with code EWEBHOOK_BLOCKED_ADDRESS when the name or any of its addresses is refused. */
export function guardedLookup(allowed?: BlockList, resolveAll: ResolveAll = resolveWithDns): LookupFunction {
  return (hostname, options, callback) => {
    const refuse = () =>
      callback(Object.assign(new Error('address refused by the webhook policy'), { code: BLOCKED }), '');
    // A stack service name or a private-only name is refused before any DNS query.
    if (!checkHost(hostname, allowed).allowed) return refuse();
    resolveAll(hostname, options, (error, addresses) => {
      if (error) return callback(error, '');
      if (addresses.length === 0 || addresses.some((entry) => !checkAddress(entry.address, allowed).allowed)) {
        return refuse();
      }
      if (options.all) return callback(null, addresses);
      const [first] = addresses as [LookupAddress];
      callback(null, first.address, first.family);
    });
  };
}

export interface WebhookPost {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** WEBHOOK_ALLOWED_PRIVATE_CIDRS, parsed. */
  allowed?: BlockList | undefined;
}

/** POSTs the body; resolves with the status code (any), rejects with a WebhookTransportError. */
export async function postWebhook(post: WebhookPost): Promise<number> {
  const url = new URL(post.url);
  const literal = canonicalIp(url.hostname);
  if (literal !== undefined && !checkAddress(literal, post.allowed).allowed) {
    throw new WebhookTransportError('blocked_address');
  }
  const signal = AbortSignal.timeout(post.timeoutMs);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  try {
    return await new Promise<number>((resolve, reject) => {
      const request = send(
        url,
        {
          method: 'POST',
          headers: { ...post.headers, 'Content-Length': String(Buffer.byteLength(post.body)) },
          lookup: guardedLookup(post.allowed),
          // A fresh connection each time: a pooled socket would skip the connect-time check.
          agent: false,
          signal,
        },
        (response: IncomingMessage) => {
          // The answer's body is not ours to read; drop the connection.
          response.destroy();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on('error', reject);
      request.end(post.body);
    });
  } catch (error) {
    throw new WebhookTransportError(signal.aborted ? 'timeout' : classify(error));
  }
}

function classify(error: unknown): WebhookFailureClass {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (code === BLOCKED) return 'blocked_address';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENODATA') return 'dns_failure';
  if (code === 'ECONNREFUSED') return 'connect_refused';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'connect_unreachable';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'connection_reset';
  if (code === 'ETIMEDOUT' || code === 'ABORT_ERR') return 'timeout';
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || /CERT|SELF_SIGNED/.test(code)) return 'tls_error';
  return 'network_error';
}

/** The class of a status other than 2xx: http_4xx for 404, and so on (anything out of range counts as 5xx). */
export function statusClass(statusCode: number): WebhookFailureClass {
  const hundreds = Math.floor(statusCode / 100);
  return hundreds === 1 || hundreds === 3 || hundreds === 4 ? `http_${hundreds}xx` : 'http_5xx';
}
