/**
 * Every response nginx generates itself is problem+json with the right status, including requests nginx rejects
 * while still reading the request line (before the fix, `GET /../etc/passwd` got an HTML 500 because error_page
 * pointed to a named location, and the error log warned of an uninitialized $edge_problem). Requests are written
 * raw on a socket: fetch would normalise the path, refuse TRACE and never send a malformed request line.
 */
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeStack, stack } from '../support/stack.js';
import { loadtestHeaders } from './support.js';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes `request` as-is and reads until nginx closes the connection (every request here ends with close). */
function rawRequest(request: string): Promise<RawResponse> {
  const { hostname, port } = new URL(stack().nginxUrl);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => socket.end(request));
    socket.setTimeout(10_000, () => socket.destroy(new Error('nginx did not answer within 10 s')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // nginx may reset a connection whose announced body it did not read (413) once it has answered: what arrived
    // before the reset is the answer.
    socket.on('error', (error) => {
      if (chunks.length === 0) reject(error);
    });
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(
        lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body });
    });
  });
}

/** The load-test key keeps these requests out of the per-IP allowance the rate-limit test measures. */
const keyHeader = (): string =>
  Object.entries(loadtestHeaders())
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');

const long = (length: number): string => 'a'.repeat(length);

describe("nginx's own error responses", () => {
  it.each([
    ['a path that climbs above the root', () => `GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n`, 400, 'bad-request'],
    ['a request line that is not HTTP', () => `GARBAGE\r\n\r\n`, 400, 'bad-request'],
    ['an HTTP/1.1 request without Host', () => `GET / HTTP/1.1\r\n\r\n`, 400, 'bad-request'],
    [
      'an internal metrics path',
      () => `GET /metrics HTTP/1.1\r\nHost: x\r\n${keyHeader()}Connection: close\r\n\r\n`,
      404,
      'not-found',
    ],
    [
      'an error page asked for by its own path',
      () => `GET /_edge/problem/502 HTTP/1.1\r\nHost: x\r\n${keyHeader()}Connection: close\r\n\r\n`,
      404,
      'not-found',
    ],
    ['TRACE', () => `TRACE / HTTP/1.1\r\nHost: x\r\n\r\n`, 405, 'method-not-allowed'],
    [
      'a body over the limit',
      () => `POST /api/v1/orders HTTP/1.1\r\nHost: x\r\n${keyHeader()}Content-Length: 5000000\r\n\r\n`,
      413,
      'payload-too-large',
    ],
    [
      'a request URI longer than the buffers',
      () => `GET /${long(9_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      414,
      'uri-too-long',
    ],
    [
      'a header longer than the buffers',
      () => `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${long(9_000)}\r\n\r\n`,
      431,
      'request-header-too-large',
    ],
    [
      'an unknown Transfer-Encoding',
      () => `POST /api/v1/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n\r\n`,
      501,
      'not-implemented',
    ],
    [
      'an HTTP version nginx does not speak',
      () => `GET / HTTP/2.0\r\nHost: x\r\n\r\n`,
      505,
      'http-version-not-supported',
    ],
  ])('when nginx gets %s, then it answers problem+json with its own status', async (_what, request, status, type) => {
    const response = await rawRequest(request());
    expect(response.status).toBe(status);
    expect(response.headers['content-type']).toBe('application/problem+json');
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    const problem = JSON.parse(response.body) as Record<string, unknown>;
    expect(problem).toMatchObject({ type: `https://problems.node-stack.dev/${type}`, status });
    expect(problem.requestId).toBe(response.headers['x-request-id']);
  });

  it('when nginx rejects requests early, then its error log has no uninitialized variable or named-location error', async () => {
    const log = await readFile(join(nativeStack().dir, 'logs', 'nginx.stderr.log'), 'utf8');
    expect(log).not.toMatch(/using uninitialized|empty URI in redirect to named location/);
  });
});
