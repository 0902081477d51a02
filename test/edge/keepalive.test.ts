/**
 * Issue 5, no 502 from keep-alive races. nginx keeps idle connections to the replicas for 30 s
 * (upstream keepalive_timeout); Node keeps them for 65 s (HTTP_KEEP_ALIVE_TIMEOUT_MS). The race this
 * ordering prevents: the replica closes an idle connection just as nginx writes a request into it, and a
 * POST (never retried) comes back as a 502.
 *
 * The test sends waves of POSTs (non-idempotent: a race would show as a 502) and GETs (a race would
 * show as a retry in nginx's access log) spaced around those timeouts: Node's default 5 s, just under
 * nginx's 30 s (connections idle for about 29 s are reused) and just past it (nginx has closed them).
 * The first wave is sent while the replicas are frozen (SIGSTOP), so its 16 requests need 16 connections
 * that then go idle together. At the end the test reads the kernel's TCP table to see WHO closed each of
 * them: the side that closes first keeps the socket in TIME_WAIT. All must have been closed by nginx. (A
 * misconfigured api, HTTP_KEEP_ALIVE_TIMEOUT_MS=5000, fails here with every connection closed by Node,
 * even in runs where the race itself happens not to produce a 502.)
 *
 * About 35 s: it waits for nginx's timeout instead of shortening it, so it checks the shipped values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { pause, resume, stack } from '../support/stack.js';
import {
  accessLogEntries,
  createCustomer,
  edgeUrl,
  loadtestHeaders,
  loopbackSockets,
  openDb,
  replicaNames,
  requestId,
  sleep,
  unreadRequestsAt,
  upstreamsOf,
} from './support.js';

/** nginx.conf, upstream api { keepalive_timeout 30s; } */
const NGINX_UPSTREAM_KEEPALIVE_MS = 30_000;

let db: pg.Pool;
let token: string;

beforeAll(async () => {
  db = openDb();
  token = (await createCustomer(db, 'edge-keepalive')).token;
});

afterAll(async () => {
  await db.end();
});

interface Answer {
  id: string;
  method: string;
  status: number;
}

async function request(method: 'GET' | 'POST'): Promise<Answer> {
  const id = requestId(`ka-${method.toLowerCase()}`);
  const headers = { ...loadtestHeaders(), authorization: `Bearer ${token}`, 'x-request-id': id };
  try {
    // The POST is an order with an empty body: the api answers 422 without writing anything, but for
    // nginx it is a POST like any other and is never retried once sent.
    const response =
      method === 'GET'
        ? await fetch(edgeUrl('/api/v1/categories'), { headers })
        : await fetch(edgeUrl('/api/v1/orders'), {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json', 'idempotency-key': id },
            body: '{}',
          });
    await response.arrayBuffer();
    return { id, method, status: response.status };
  } catch {
    return { id, method, status: 0 };
  }
}

/** `size` POSTs and `size` GETs at once. */
const wave = (size: number): Promise<Answer[]> =>
  Promise.all(
    Array.from({ length: size }, (_, i) => request(i % 2 === 0 ? 'POST' : 'GET')).concat(
      Array.from({ length: size }, (_, i) => request(i % 2 === 0 ? 'GET' : 'POST')),
    ),
  );

const key = (nginxPort: number, apiPort: number) => `${nginxPort}->${apiPort}`;

/** Waits until `count` requests sit unread on the (frozen) replicas' ports. */
async function waitForUnread(ports: Set<number>, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  let waiting = 0;
  while (Date.now() < deadline) {
    waiting = 0;
    for (const port of ports) waiting += await unreadRequestsAt(port);
    if (waiting >= count) return;
    await sleep(50);
  }
  throw new Error(`only ${waiting} of ${count} requests reached the frozen replicas`);
}

describe('keep-alive between nginx and the replicas', () => {
  it('when requests are spaced around the keep-alive timeouts, then none gets a 502 and nginx, not Node, closes idle connections', async () => {
    const apiPorts = new Set(stack().apiUrls.map((url) => Number(new URL(url).port)));
    const answers: Answer[] = [];

    // First wave with every replica frozen until all of its requests are waiting on them: nginx then
    // needs one connection per request, so a known number of connections goes idle together.
    let firstWave: Promise<Answer[]> | undefined;
    try {
      for (const name of replicaNames()) await pause(name);
      firstWave = wave(8);
      await waitForUnread(apiPorts, 16);
    } finally {
      for (const name of replicaNames()) await resume(name);
    }
    answers.push(...(await (firstWave as Promise<Answer[]>)));
    const idleSince = performance.now();
    // The connections nginx holds open to the replicas now (idle in its keep-alive cache).
    const opened = (await loopbackSockets()).filter(
      (socket) => socket.state === 'ESTABLISHED' && apiPorts.has(socket.remotePort) && !apiPorts.has(socket.localPort),
    );
    const at = (ms: number) => sleep(Math.max(0, idleSince + ms - performance.now()));

    await at(5_000); // Node's default keepAliveTimeout: the classic misconfiguration closes here
    answers.push(...(await wave(1)));
    await at(NGINX_UPSTREAM_KEEPALIVE_MS - 1_000); // reuses connections idle for ~24 s and ~29 s
    answers.push(...(await wave(2)));
    await at(NGINX_UPSTREAM_KEEPALIVE_MS + 1_500); // past nginx's timeout (it counts whole seconds)
    const sockets = await loopbackSockets();
    answers.push(...(await wave(8)));

    const state = new Map<string, string>();
    for (const socket of sockets) {
      if (apiPorts.has(socket.remotePort))
        state.set(`nginx side ${key(socket.localPort, socket.remotePort)}`, socket.state);
      if (apiPorts.has(socket.localPort))
        state.set(`api side ${key(socket.remotePort, socket.localPort)}`, socket.state);
    }
    const closedByNginx = opened.filter(
      (c) => state.get(`nginx side ${key(c.localPort, c.remotePort)}`) === 'TIME_WAIT',
    );
    const closedByNode = opened
      .filter((c) => state.get(`api side ${key(c.localPort, c.remotePort)}`) === 'TIME_WAIT')
      .map((c) => `nginx:${c.localPort} -> api:${c.remotePort} closed by the api after less than 31.5 s idle`);
    const stillOpen = opened.filter((c) => state.get(`nginx side ${key(c.localPort, c.remotePort)}`) === 'ESTABLISHED');
    const log = await accessLogEntries(answers.map((answer) => answer.id));
    const retried = [...log.values()].filter((entry) => upstreamsOf(entry).length > 1);
    console.log(
      `keep-alive: ${answers.length} requests over ${((performance.now() - idleSince) / 1_000).toFixed(1)} s; ` +
        `of ${opened.length} upstream connections open after the first wave, ${closedByNginx.length} closed by nginx, ` +
        `${closedByNode.length} by Node, ${stillOpen.length} still open (reused since)`,
    );

    expect(answers.filter((answer) => answer.method === 'POST' && answer.status !== 422)).toEqual([]);
    expect(answers.filter((answer) => answer.method === 'GET' && answer.status !== 200)).toEqual([]);
    expect(retried).toEqual([]);
    // 16 requests were held, so up to 16 connections; how many stay cached depends on how the two nginx
    // workers split them (each keeps its own keep-alive cache). Enough idle connections to judge by:
    expect(opened.length).toBeGreaterThanOrEqual(8);
    expect(closedByNode).toEqual([]);
    // The later waves (6 requests at most) reused a few; nginx closed the others. Connections an earlier test file
    // left in nginx's keep-alive cache are counted too (18 were seen for 16 held requests), and which ones the later
    // waves reuse is the workers' choice, so the bound is half, not all but 6.
    expect(closedByNginx.length + stillOpen.length).toBe(opened.length);
    expect(closedByNginx.length).toBeGreaterThanOrEqual(Math.ceil(opened.length / 2));
  }, 60_000);
});
