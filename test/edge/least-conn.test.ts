/**
 * Issue 5, least connections: with one replica slow, nginx sends new requests to the others.
 *
 * "Slow" is a replica frozen with SIGSTOP: the kernel still accepts connections for it (listen backlog),
 * so nginx can hand it requests, but nothing comes back, like a replica stuck in long requests. Once it
 * holds more requests in flight than the others ever do, least_conn never picks it; round robin would
 * keep sending it every other request.
 */
import { describe, expect, it } from 'vitest';
import { pause, resume, stack } from '../support/stack.js';
import * as edge from './support.js';

interface Sent {
  id: string;
  done: boolean;
  result: Promise<number>;
}

function send(timeoutMs?: number): Sent {
  const id = edge.requestId('lc');
  const sent: Sent = {
    id,
    done: false,
    result: fetch(edge.edgeUrl('/healthz'), {
      headers: { ...edge.loadtestHeaders(), 'x-request-id': id },
      signal: timeoutMs === undefined ? null : AbortSignal.timeout(timeoutMs),
    }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
      () => 0,
    ),
  };
  void sent.result.finally(() => (sent.done = true));
  return sent;
}

describe('least connections', () => {
  it('when one replica is slow, then new requests go to the other replicas', async () => {
    const [slowName] = edge.replicaNames();
    const [slowAddress] = edge.replicaAddresses();
    const others = stack()
      .apiUrls.map((_, index) => index)
      .slice(1);
    const concurrency = 2;
    const requests = 40;
    const sentToPile: Sent[] = [];
    let held: Sent[] = [];
    const statuses: number[] = [];
    let servedByOthers = 0;

    const slowPort = Number(new URL(stack().apiUrls[0] as string).port);
    await pause(slowName as string);
    try {
      // Make the frozen replica hold more requests than `concurrency`: fire small bursts; whatever
      // nginx gives the frozen replica stays in flight, the rest is answered by the others at once.
      for (let round = 0; round < 10 && held.length <= concurrency; round += 1) {
        sentToPile.push(...Array.from({ length: held.length + 3 }, () => send()));
        held = await edge.heldByFrozenReplica(sentToPile, slowPort);
      }
      expect(held.length).toBeGreaterThan(concurrency);

      // New requests, never more than `concurrency` at once: the others always have fewer in flight
      // than the slow one, so least_conn sends every one of them there.
      const before = await edge.servedBy(others, '/healthz');
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < requests) {
            next += 1;
            statuses.push(await send(10_000).result);
          }
        }),
      );
      servedByOthers = edge.sum(await edge.servedBy(others, '/healthz')) - edge.sum(before);
    } finally {
      await resume(slowName as string);
    }
    // Woken up, the slow replica answers what it held (well within proxy_read_timeout).
    const heldStatuses = await Promise.all(held.map((request) => request.result));
    await edge.restoreReplicas();
    const heldLog = await edge.accessLogEntries(held.map((request) => request.id));
    console.log(
      `least_conn: ${held.length} requests held by the frozen ${slowName}; ${servedByOthers} of ${requests} new requests served by the others`,
    );

    expect(statuses).toHaveLength(requests);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    expect(servedByOthers).toBe(requests);
    expect(heldStatuses).toEqual(held.map(() => 200));
    expect([...heldLog.values()].map((entry) => edge.upstreamsOf(entry))).toEqual(held.map(() => [slowAddress]));
  });
});
