/**
 * Issue 5, a replica killed with SIGKILL: GETs never show the client an error (nginx retries them on
 * another replica: proxy_next_upstream error timeout http_502), and POSTs are never sent twice
 * (nginx does not retry a non-idempotent request once it has sent it, so the client sees a 502 and can
 * repeat it with its Idempotency-Key). The first test runs on the native and on the compose stack; the second reads
 * the replica's sockets from this host's TCP table, which only native mode shares with the test.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { describeStack, pause, stack, stackMode, stop } from '../support/stack.js';
import {
  accessLogEntries,
  edgeUrl,
  ensureTwoReplicas,
  loadtestHeaders,
  replicaAddresses,
  replicaNames,
  requestId,
  restoreReplicas,
  heldByFrozenReplica,
  servedBy,
  sleep,
  sum,
  unique,
  upstreamsOf,
  edgeFixture,
} from './support.js';

describeStack('replica kill', () => {
  beforeAll(ensureTwoReplicas);
  const shop = edgeFixture('kill', { count: 3, stock: 1_000_000 });

  interface Outcome {
    id: string;
    method: 'GET' | 'POST';
    idempotencyKey?: string;
    sentAt: number;
    /** HTTP status, or 0 for a network error. */
    status: number;
    body: string;
    contentType: string | null;
  }

  interface InFlight {
    done: boolean;
    outcome: Promise<Outcome>;
  }

  /**
   * A personal catalog read (Authorization: never answered by the micro-cache, so it reaches a replica) or an
   * order placement, each with a request id of its own to find it in nginx's access log.
   */
  function send(method: 'GET' | 'POST'): InFlight {
    const id = requestId(method === 'GET' ? 'kill-get' : 'kill-post');
    const idempotencyKey = method === 'POST' ? unique('order') : undefined;
    const headers: Record<string, string> = {
      ...loadtestHeaders(),
      authorization: `Bearer ${shop.token}`,
      'x-request-id': id,
    };
    const init: RequestInit =
      method === 'GET'
        ? { headers }
        : {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json', 'idempotency-key': idempotencyKey as string },
            body: JSON.stringify({ items: [{ productId: shop.productIds[0], quantity: 1 }] }),
          };
    const sentAt = performance.now();
    const path = method === 'GET' ? `/api/v1/products?q=${shop.word}` : '/api/v1/orders';
    const inFlight: InFlight = {
      done: false,
      outcome: fetch(edgeUrl(path), { ...init, signal: AbortSignal.timeout(20_000) }).then(
        async (response) => ({
          id,
          method,
          idempotencyKey,
          sentAt,
          status: response.status,
          body: await response.text(),
          contentType: response.headers.get('content-type'),
        }),
        (error: Error) => ({ id, method, idempotencyKey, sentAt, status: 0, body: error.message, contentType: null }),
      ),
    };
    void inFlight.outcome.finally(() => (inFlight.done = true));
    return inFlight;
  }

  describe('a replica killed with SIGKILL', () => {
    it('when a replica is SIGKILLed during a stream of GETs, then no client sees an error', async () => {
      const [victim] = replicaNames();
      const outcomes: Outcome[] = [];
      let running = true;
      const client = async () => {
        while (running) {
          outcomes.push(await send('GET').outcome);
          await sleep(2);
        }
      };
      const clients = Array.from({ length: 6 }, client);
      try {
        await sleep(1_000);
        await stop(victim as string, 'KILL');
        await sleep(1_500);
      } finally {
        running = false;
        await Promise.all(clients);
        await restoreReplicas();
      }
      const log = await accessLogEntries(outcomes.map((outcome) => outcome.id));
      const retried = [...log.values()].filter((entry) => upstreamsOf(entry).length > 1).length;
      console.log(
        `SIGKILL under GETs: ${outcomes.length} GETs, all answered; ${retried} of them retried on another replica`,
      );

      expect(outcomes.length).toBeGreaterThan(50);
      expect(outcomes.filter((outcome) => outcome.status !== 200)).toEqual([]);
    });

    it.runIf(stackMode() === 'native')(
      'when a replica dies holding requests, then its GETs are retried elsewhere and its POSTs are answered 502, never sent twice',
      async () => {
        const [victim] = replicaNames();
        const [victimAddress] = replicaAddresses();
        const others = stack()
          .apiUrls.map((_, index) => index)
          .slice(1);
        const posts: InFlight[] = [];
        const gets: InFlight[] = [];
        let heldPosts: InFlight[] = [];
        let heldGets: InFlight[] = [];
        const victimPort = Number(new URL(stack().apiUrls[0] as string).port);
        const postsBefore = sum(await servedBy(others, '/api/v1/orders', 'POST'));

        // The victim is frozen first (SIGSTOP: connections are accepted, nothing is answered), so requests
        // are certainly in flight on it when it dies, instead of by luck of timing.
        await pause(victim as string);
        try {
          // One order at a time until the victim holds one (least_conn alternates between idle replicas).
          for (let i = 0; i < 8 && heldPosts.length === 0; i += 1) {
            posts.push(send('POST'));
            heldPosts = await heldByFrozenReplica(posts, victimPort);
          }
          // Three more, one at a time: the victim has one in flight, the others none, so these go to the others.
          for (let i = 0; i < 3; i += 1) {
            const post = send('POST');
            posts.push(post);
            await post.outcome;
          }
          // Then reads, a few at a time, until it holds one of those too.
          for (let i = 0; i < 8 && heldGets.length === 0; i += 1) {
            gets.push(...Array.from({ length: 3 }, () => send('GET')));
            heldGets = (await heldByFrozenReplica([...posts, ...gets], victimPort)).filter((request) =>
              gets.includes(request),
            );
          }
          expect(heldPosts.length).toBeGreaterThan(0);
          expect(heldGets.length).toBeGreaterThan(0);
          await stop(victim as string, 'KILL');
        } finally {
          // Wakes the victim if something above failed before the kill; then the stack is made whole again.
          await restoreReplicas();
        }
        const outcomes = await Promise.all([...posts, ...gets].map((request) => request.outcome));
        const ordersAtOthers = sum(await servedBy(others, '/api/v1/orders', 'POST')) - postsBefore;

        const log = await accessLogEntries(outcomes.map((outcome) => outcome.id));
        const upstreams = (outcome: Outcome) => upstreamsOf(log.get(outcome.id));
        const atVictim = outcomes.filter((outcome) => upstreams(outcome)[0] === victimAddress);
        const getsAtVictim = atVictim.filter((outcome) => outcome.method === 'GET');
        const postsAtVictim = atVictim.filter((outcome) => outcome.method === 'POST');
        const postsElsewhere = outcomes.filter(
          (outcome) => outcome.method === 'POST' && !postsAtVictim.includes(outcome),
        );
        console.log(
          `SIGKILL holding requests: ${getsAtVictim.length} GETs and ${postsAtVictim.length} POSTs were in flight on ${victim}; ` +
            `${outcomes.length} requests in all, ${ordersAtOthers} POSTs reached the other replicas`,
        );

        expect(log.size).toBe(outcomes.length);
        expect(getsAtVictim.length).toBeGreaterThan(0);
        expect(postsAtVictim.length).toBeGreaterThan(0);

        // Every GET is answered; those the victim held were sent once more, to another replica.
        expect(outcomes.filter((outcome) => outcome.method === 'GET' && outcome.status !== 200)).toEqual([]);
        for (const outcome of getsAtVictim) {
          expect(upstreams(outcome)).toHaveLength(2);
          expect(upstreams(outcome)[1]).not.toBe(victimAddress);
        }

        // A POST the victim held was sent to it only, and the client got nginx's 502 problem.
        for (const outcome of postsAtVictim) {
          expect(upstreams(outcome)).toEqual([victimAddress]);
          expect(outcome.status).toBe(502);
          expect(outcome.contentType).toBe('application/problem+json');
          expect(JSON.parse(outcome.body)).toMatchObject({ type: 'https://problems.node-stack.dev/bad-gateway' });
        }
        // The other POSTs were placed once each, and no other replica received more POSTs than those.
        expect(postsElsewhere.length).toBeGreaterThanOrEqual(3);
        expect(postsElsewhere.map((outcome) => outcome.status)).toEqual(postsElsewhere.map(() => 201));
        expect(ordersAtOthers).toBe(postsElsewhere.length);

        // Postgres agrees: an order exists for every 201, none for the POSTs that died with the victim.
        const { rows } = await shop.db.query<{ idempotency_key: string }>(
          'SELECT idempotency_key FROM orders WHERE idempotency_key = ANY($1)',
          [outcomes.map((outcome) => outcome.idempotencyKey).filter((key) => key !== undefined)],
        );
        expect(rows.map((row) => row.idempotency_key).sort()).toEqual(
          postsElsewhere.map((outcome) => outcome.idempotencyKey as string).sort(),
        );
      },
    );
  });
});
