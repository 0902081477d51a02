/**
 * Helpers for the edge tests (issue 5): real nginx in front of the native stack's api replicas.
 *
 * What the tests look at, besides status codes:
 *   - each replica's own Prometheus counter `http_requests_total` (who served what),
 *   - nginx's JSON access log (`logs/nginx.stdout.log` of the stack: upstream_addr lists every replica a
 *     request was sent to, in order),
 *   - the kernel's TCP table (/proc/net/tcp: which side closed an nginx -> api connection).
 *
 * Requests that are not about the rate limit carry the load-test key, so they never use up the per-IP
 * allowance that the rate-limit test measures (and the limiter never turns their answers into 429s).
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { generateToken, hashToken } from '@stack/core';
import { unique } from '../../api/test/support/api.js';
import { accessLog, ensureReplicas, resume, stack, start, waitUntilEveryReplicaServes } from '../support/stack.js';

export { sleep, unique };
// Defined with the Stack (ensureReplicas waits on them too); the edge tests import them from here.
export { loadtestHeaders, requestsServed, servedBy, waitUntilEveryReplicaServes } from '../support/stack.js';

/** A word the English text-search stemmer keeps as it is (letters only), unique to one test. */
export const uniqueWord = (prefix: string): string =>
  `${prefix}${[...randomBytes(8)].map((byte) => String.fromCharCode(97 + (byte % 26))).join('')}`;

/** A client request id nginx keeps (`^[A-Za-z0-9._-]{8,128}$`), so a request can be found in the access log. */
export const requestId = (prefix: string): string => `${prefix}-${randomBytes(8).toString('hex')}`;

export const edgeUrl = (path: string): string => `${stack().nginxUrl}${path}`;

/** Names the Stack functions know the replicas by, in the order of stack().apiUrls. */
export const replicaNames = (): string[] => stack().apiNames;

/** host:port of each replica, in the order of stack().apiUrls (as nginx writes them in upstream_addr). */
export const replicaAddresses = (): string[] => stack().apiUrls.map((url) => new URL(url).host);

export function openDb(): pg.Pool {
  return new pg.Pool({ connectionString: stack().databaseUrl, max: 2 });
}

/** A customer with a bearer token of its own. */
export async function createCustomer(db: pg.Pool, prefix: string): Promise<{ userId: number; token: string }> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO users (email, name, role) VALUES ($1, 'Edge test customer', 'customer') RETURNING id`,
    [`${unique(prefix)}@example.com`],
  );
  const userId = rows[0]?.id;
  if (userId === undefined) throw new Error('no user id');
  const token = generateToken();
  await db.query(`INSERT INTO api_tokens (user_id, token_hash) VALUES ($1, $2)`, [
    userId,
    hashToken(token, stack().tokenPepper),
  ]);
  return { userId, token };
}

/**
 * A category of its own with `count` active products whose names contain `word`, so
 * `/api/v1/products?q=<word>` lists exactly them (a JSON body of a few hundred bytes per product).
 */
export async function createProducts(
  db: pg.Pool,
  options: { word: string; count: number; stock?: number },
): Promise<number[]> {
  const slug = unique('edge').toLowerCase();
  const { rows: categories } = await db.query<{ id: number }>(
    `INSERT INTO categories (slug, name) VALUES ($1, $2) RETURNING id`,
    [slug, `Edge ${slug}`],
  );
  const categoryId = categories[0]?.id;
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO products (sku, category_id, name, description, price_cents, stock)
     SELECT $1 || '-' || n, $2, $3 || ' product number ' || n || ' with a name long enough to make the list weigh something',
            'Inserted by the edge tests.', 1000 + n, $4
       FROM generate_series(1, $5::int) AS n
     RETURNING id`,
    [unique('sku'), categoryId, options.word, options.stock ?? 0, options.count],
  );
  return rows.map((row) => row.id);
}

export const sum = (values: number[]): number => values.reduce((total, value) => total + value, 0);

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The bytes as they came over the wire: nothing is decompressed (unlike fetch). */
  body: Buffer;
}

/** A GET with exactly these headers (fetch would add Accept-Encoding and decompress). */
export function rawGet(url: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`GET ${url}: no answer in 15 s`)));
    req.on('error', reject);
    req.end();
  });
}

export interface AccessLogEntry {
  request_id: string;
  method: string;
  uri: string;
  status: number;
  upstream_addr: string;
  upstream_status: string;
  cache: string;
}

/**
 * nginx's access-log lines for these request ids. nginx buffers the log (flush=1s), so this polls
 * until every id has its line, or gives up after `timeoutMs` and returns what it found.
 */
export async function accessLogEntries(ids: Iterable<string>, timeoutMs = 5_000): Promise<Map<string, AccessLogEntry>> {
  const wanted = new Set(ids);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = new Map<string, AccessLogEntry>();
    for (const line of (await accessLog()).split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as AccessLogEntry;
      if (wanted.has(entry.request_id)) found.set(entry.request_id, entry);
    }
    if (found.size === wanted.size || Date.now() > deadline) return found;
    await sleep(250);
  }
}

/** The replicas (host:port) nginx sent a request to, in order ("a, b" when it was retried). */
export const upstreamsOf = (entry: AccessLogEntry | undefined): string[] =>
  entry === undefined || entry.upstream_addr === '' ? [] : entry.upstream_addr.split(/\s*,\s*|\s+:\s+/);

/**
 * With one replica frozen (SIGSTOP), waits until every request of `sent` is either answered or waiting
 * on the frozen replica, and returns the latter. No timing guess: a request nginx handed to the frozen
 * replica is a connection to its port whose bytes nobody reads (kernel receive queue > 0, see
 * `unreadRequestsAt`), and nginx never pipelines, so there is one such connection per request.
 */
export async function heldByFrozenReplica<T extends { done: boolean }>(
  sent: T[],
  frozenPort: number,
  timeoutMs = 10_000,
): Promise<T[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Read the socket count first: while the replica is frozen it only grows, and unanswered requests
    // only shrink, so equality means every unanswered request was already waiting on the frozen replica.
    const waiting = await unreadRequestsAt(frozenPort);
    const pending = sent.filter((request) => !request.done);
    if (pending.length === waiting) return pending;
    if (Date.now() > deadline) {
      throw new Error(
        `${pending.length} of ${sent.length} requests unanswered, ${waiting} waiting on port ${frozenPort}`,
      );
    }
    await sleep(50);
  }
}

/**
 * Starts every replica in `names` that is down (a no-op for a running one), then waits for nginx. A frozen one
 * (SIGSTOP, docker pause) counts as running, so it is woken first.
 */
export async function restoreReplicas(names: string[] = replicaNames()): Promise<void> {
  for (const name of names) {
    await resume(name).catch(() => undefined);
    await start(name);
  }
  await waitUntilEveryReplicaServes();
}

/** For the scenarios that run in both modes: the stack has at least two replicas to fail over between. */
export const ensureTwoReplicas = (): Promise<void> => ensureReplicas(2);

// ---------------------------------------------------------------------------------------------------------------------
// TCP table: which side closed a connection between nginx and a replica.

export type TcpState =
  'ESTABLISHED' | 'TIME_WAIT' | 'CLOSE_WAIT' | 'FIN_WAIT1' | 'FIN_WAIT2' | 'LAST_ACK' | 'LISTEN' | 'OTHER';

export interface TcpSocket {
  localPort: number;
  remotePort: number;
  state: TcpState;
  /** Bytes received and not yet read by the process (for a listening socket: its accept backlog). */
  receiveQueue: number;
}

const TCP_STATES: Record<string, TcpState> = {
  '01': 'ESTABLISHED',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
};

/** IPv4 loopback sockets from /proc/net/tcp (TIME_WAIT ones included: they outlive their process). */
export async function loopbackSockets(): Promise<TcpSocket[]> {
  const text = await readFile('/proc/net/tcp', 'utf8');
  return text
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length > 3 && fields[1]?.startsWith('0100007F:') && fields[2]?.startsWith('0100007F:'))
    .map((fields) => ({
      localPort: parseInt((fields[1] as string).split(':')[1] as string, 16),
      remotePort: parseInt((fields[2] as string).split(':')[1] as string, 16),
      state: TCP_STATES[fields[3] as string] ?? 'OTHER',
      receiveQueue: parseInt((fields[4] as string).split(':')[1] as string, 16),
    }));
}

/**
 * Connections to `port` holding bytes its process has not read: with the process frozen, the requests
 * waiting on it (accepted or still in the accept backlog; both show as ESTABLISHED sockets).
 */
export async function unreadRequestsAt(port: number): Promise<number> {
  return (await loopbackSockets()).filter(
    (socket) => socket.localPort === port && socket.state === 'ESTABLISHED' && socket.receiveQueue > 0,
  ).length;
}

/**
 * What an edge test file starts from, made in its beforeAll and closed in its afterAll: a database pool, a customer's
 * token, and products whose names share a word of their own (so a search finds only them).
 */
export function edgeFixture(prefix: string, products: { count: number; stock?: number }) {
  const fixture = { db: undefined as unknown as pg.Pool, token: '', word: '', productIds: [] as number[] };
  beforeAll(async () => {
    fixture.db = openDb();
    fixture.token = (await createCustomer(fixture.db, `edge-${prefix}`)).token;
    fixture.word = uniqueWord(prefix);
    fixture.productIds = await createProducts(fixture.db, { word: fixture.word, ...products });
  });
  afterAll(async () => {
    await fixture.db?.end();
  });
  return fixture;
}
