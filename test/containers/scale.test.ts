/**
 * `--scale` as users run it: `docker compose up -d --wait --scale api=3` and `make scale N=3` give three replicas that
 * nginx sends requests to without a reload (each replica's own metrics show it), nothing else is recreated, and
 * scaling back to one under a bounded stream of reads and orders fails no request and applies no order twice.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCustomer, createProducts, loadtestHeaders, openDb, servedBy, uniqueWord } from '../edge/support.js';
import { describeStack, docker, rereadStack, stack } from '../support/stack.js';
import { trafficWhile as trafficThroughNginx } from '../support/traffic.js';
import { compose, make } from './support/compose.js';

/** Container id of every service's containers, by name (api-1, nginx-1, ...). */
async function containerIds(): Promise<Map<string, string>> {
  const lines = (
    await compose(['ps', '--all', '--format', '{{.Service}}-{{.Label "com.docker.compose.container-number"}} {{.ID}}'])
  ).trim();
  return new Map(lines.split('\n').map((line) => line.split(' ') as [string, string]));
}

/**
 * Requests through nginx until every replica has served some (nginx re-resolves `api` every 5 s, so a new replica
 * gets traffic within that), or 30 s pass; returns how many each served.
 */
async function spreadOverReplicas(): Promise<number[]> {
  rereadStack();
  const replicas = stack().apiUrls.map((_, index) => index);
  const before = await servedBy(replicas, '/healthz');
  const deadline = Date.now() + 30_000;
  for (;;) {
    // Concurrent requests: least_conn spreads them once a replica has one in flight.
    const statuses = await Promise.all(
      Array.from(
        { length: 9 },
        async () => (await fetch(`${stack().nginxUrl}/healthz`, { headers: loadtestHeaders() })).status,
      ),
    );
    expect(statuses).toEqual(Array(9).fill(200));
    const served = (await servedBy(replicas, '/healthz')).map((count, index) => count - (before[index] ?? 0));
    if (served.every((count) => count > 0) || Date.now() > deadline) return served;
    await sleep(200);
  }
}

/** The customer and the product (a million in stock) of the traffic these tests send. */
let trafficToken = '';
let trafficProduct = 0;

describeStack('scaling the api with compose', () => {
  let db: pg.Pool;

  beforeAll(async () => {
    db = openDb();
    trafficToken = (await createCustomer(db, 'scale')).token;
    [trafficProduct] = (await createProducts(db, { word: uniqueWord('scale'), count: 1, stock: 1_000_000 })) as [
      number,
    ];
  });
  afterAll(async () => {
    await db?.end();
  });

  it('when compose and make scale the api to 3, then nginx sends requests to all three and nothing else is recreated', async () => {
    const before = await containerIds();
    await compose(['up', '-d', '--wait', '--scale', 'api=3']);
    const spread = await spreadOverReplicas();
    console.log(`docker compose up --scale api=3: /healthz served ${spread.join('/')} by the three replicas`);
    expect(spread).toHaveLength(3);
    for (const count of spread) expect(count).toBeGreaterThan(0);

    await make(['scale', 'N=3']);
    const after = await containerIds();
    for (const [name, id] of before) {
      if (name.startsWith('migrate')) continue; // a one-shot: its exited container may be replaced by a new run
      expect(after.get(name), `${name} was recreated`).toBe(id);
    }
    expect([...after.keys()].filter((name) => name.startsWith('api-')).sort()).toEqual(['api-1', 'api-2', 'api-3']);
  });

  it('when the api is scaled to 1 under a stream of reads and orders, then no request fails and no order is applied twice (a 502 on an order is repeated with its key)', async () => {
    const stockBefore = (
      await db.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [trafficProduct])
    ).rows[0]?.stock;
    const { failures, reads, orderKeys, repeated } = await trafficWhile(
      async () => {
        await make(['scale', 'N=1']);
        // Past nginx's resolver `valid=1s`: requests now go to the one replica left.
        await sleep(2_000);
      },
      { readers: 3, orderers: 2 },
    );
    rereadStack();
    console.log(
      `scale 3 -> 1 under load: ${reads} reads, ${orderKeys.length} orders (${repeated} repeated after a 502), ` +
        `${failures.length} failures`,
    );
    if (failures.length + repeated > 0) console.log(await nginxErrors());
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(100);
    expect(orderKeys.length).toBeGreaterThan(20);
    expect(stack().apiNames).toEqual(['api-1']);

    // One order per answered POST, and the stock fell by exactly that many units.
    const { rows } = await db.query<{ count: number }>(
      'SELECT count(*)::int AS count FROM orders WHERE idempotency_key = ANY($1)',
      [orderKeys],
    );
    expect(rows[0]?.count).toBe(orderKeys.length);
    const stockAfter = (await db.query<{ stock: number }>('SELECT stock FROM products WHERE id = $1', [trafficProduct]))
      .rows[0]?.stock;
    expect((stockBefore ?? 0) - (stockAfter ?? 0)).toBe(orderKeys.length);
  });

  it('when a replica container is killed under a stream of GETs, then no GET fails and compose brings it back healthy', async () => {
    await compose(['up', '-d', '--wait', '--scale', 'api=2']);
    rereadStack();
    const victim = `${projectName()}-api-2`;
    try {
      const { failures, reads } = await trafficWhile(() => docker(['kill', victim]), { readers: 6, orderers: 0 });
      console.log(`docker kill under GETs: ${reads} GETs, ${failures.length} failed: ${failures.join('; ')}`);
      expect(failures).toEqual([]);
      expect(reads).toBeGreaterThan(100);
    } finally {
      // `docker kill` is an operator's stop: the restart policy leaves it down, the next `up` starts it again.
      await compose(['up', '-d', '--wait', '--scale', 'api=2']);
      rereadStack();
    }
    expect(await healthOf(victim)).toBe('running healthy');
  });

  it('when a replica crashes (its init process killed) under a stream of GETs, then no GET fails and Docker restarts it', async () => {
    const victim = `${projectName()}-api-2`;
    const startedAt = (await docker(['inspect', '--format', '{{.State.StartedAt}}', victim])).trim();
    const pid = Number((await docker(['inspect', '--format', '{{.State.Pid}}', victim])).trim());
    // A stopped container's Pid is 0, and kill(0) would signal this test's own process group.
    expect(pid).toBeGreaterThan(1);
    // From the host, so it is a crash to Docker, not a stop: `restart: unless-stopped` applies.
    const crash = async () => void process.kill(pid, 'SIGKILL');
    const { failures, reads } = await trafficWhile(crash, { readers: 6, orderers: 0 });
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(100);
    const deadline = Date.now() + 90_000;
    let state = '';
    while (Date.now() < deadline) {
      state = await healthOf(victim);
      const restartedAt = (await docker(['inspect', '--format', '{{.State.StartedAt}}', victim])).trim();
      if (restartedAt !== startedAt && state === 'running healthy') break;
      await sleep(500);
    }
    console.log(`crash under GETs: ${reads} GETs, ${failures.length} failed; ${victim} is ${state} again`);
    expect(state).toBe('running healthy');
    rereadStack();
  });
});

/** nginx's error log lines about upstreams (timeouts, refusals, resets), for a failure's message. */
async function nginxErrors(): Promise<string> {
  const log = await docker(['logs', `${projectName()}-nginx-1`]);
  return log
    .split('\n')
    .filter((line) => /\[(error|warn)\]/.test(line))
    .slice(-30)
    .join('\n');
}

async function healthOf(container: string): Promise<string> {
  return (await docker(['inspect', '--format', '{{.State.Status}} {{.State.Health.Status}}', container])).trim();
}

/** Reads and orders of this file's customer and product through nginx while `act` runs (test/support/traffic.ts). */
const trafficWhile = (act: () => Promise<unknown>, clients: { readers: number; orderers: number }) =>
  trafficThroughNginx(act, clients, {
    nginxUrl: stack().nginxUrl,
    headers: { ...loadtestHeaders(), authorization: `Bearer ${trafficToken}` },
    productId: trafficProduct,
  });

const projectName = () => stack().env.COMPOSE_PROJECT_NAME as string;
