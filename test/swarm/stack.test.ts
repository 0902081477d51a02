/**
 * docker-stack.yml on a single-node swarm, operated as a user would: `make stack-deploy` (global set-up), then
 * `docker service scale`, `docker service update --image` (a good image, then one whose health check fails), and a
 * task's container killed, each under a bounded stream of reads and orders through nginx's published port.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { trafficWhile, type Traffic } from '../support/traffic.js';
import { BROKEN_TAG, NEXT_TAG } from './support/global-setup.js';
import {
  apiTaskAddresses,
  describeSwarm,
  loadtestHeaders,
  seedThroughApiTask,
  spreadOver,
  swarm,
} from './support/swarm.js';

const customerToken = `stk_swarm_customer_${randomBytes(16).toString('hex')}`;
let productId = 0;

/** Reads and orders of the seeded customer through nginx while `act` runs. */
const traffic = (act: () => Promise<unknown>, clients: { readers: number; orderers: number }) =>
  trafficWhile(act, clients, {
    nginxUrl: swarm().nginxUrl,
    headers: { ...loadtestHeaders(), authorization: `Bearer ${customerToken}` },
    productId,
  });

const stockOf = async (id: number) => Number((await swarm().psql(`SELECT stock FROM products WHERE id = ${id}`))[0]);

/** Every answered order exists exactly once, and the stock fell by exactly that many units. */
async function expectOrdersAppliedOnce(result: Traffic, stockBefore: number): Promise<void> {
  const keys = result.orderKeys.map((key) => `'${key}'`).join(',') || "''";
  const [count] = await swarm().psql(`SELECT count(*) FROM orders WHERE idempotency_key IN (${keys})`);
  expect(Number(count)).toBe(result.orderKeys.length);
  expect(stockBefore - (await stockOf(productId))).toBe(result.orderKeys.length);
}

const summary = (result: Traffic) =>
  `${result.reads} GETs, ${result.orderKeys.length} orders (${result.repeated} repeated after a 502), ` +
  `${result.failures.length} failed`;

describeSwarm('the stack on Docker Swarm', () => {
  beforeAll(async () => {
    await seedThroughApiTask(swarm(), customerToken);
    const [id] = await swarm().psql(
      'UPDATE products SET stock = 1000000 WHERE id = (SELECT min(id) FROM products WHERE active) RETURNING id',
    );
    productId = Number(id);
  });

  it('when make stack-deploy has returned, then every service is converged and healthy, the catalog is served through nginx, and the migrations ran once', async () => {
    const expected = { nginx: 1, api: 2, worker: 1, postgres: 1, pgbouncer: 1, redis: 1, 'redis-queue': 1 };
    for (const [service, replicas] of Object.entries(expected)) await swarm().waitConverged(service, replicas, 10_000);

    const response = await fetch(`${swarm().nginxUrl}/api/v1/products?limit=5`, { headers: loadtestHeaders() });
    const body = (await response.json()) as { data: { id: number }[] };
    expect(response.status).toBe(200);
    expect(body.data.length).toBeGreaterThan(0);

    // One completed run of the job (earlier attempts may have found Postgres still starting), one record per file.
    const jobRuns = await swarm().tasks('migrate', 'all');
    expect(jobRuns.filter((task) => task.state === 'complete')).toHaveLength(1);
    const files = readdirSync(join(swarm().deployment.dir, 'db/init')).filter((name) => name.endsWith('.sql'));
    expect(await swarm().psql('SELECT filename FROM schema_migrations ORDER BY filename')).toEqual(files.sort());
    const logs = await swarm().docker(['service', 'logs', '--raw', swarm().serviceName('migrate')]);
    expect(logs.match(/applied \d+ migration\(s\)/g)).toHaveLength(1);
    console.log(
      `stack-deploy: converged, ${jobRuns.length} migrate attempt(s), ${files.length} migrations recorded, ` +
        `catalog returned ${body.data.length} products`,
    );
  });

  it('when the api is scaled to 4, then nginx spreads requests over the 4 tasks without a reload; scaled back to 2 under reads and orders, no request fails and no order is applied twice', async () => {
    const [nginxBefore] = await swarm().containers('nginx');
    await swarm().scale('api', 4);
    const addresses = await apiTaskAddresses();
    expect(addresses).toHaveLength(4);
    const served = await spreadOver(addresses);
    console.log(`scale api=4: /healthz served ${addresses.map((a) => served.get(a) ?? 0).join('/')} by the 4 tasks`);
    for (const address of addresses) expect(served.get(address) ?? 0, address).toBeGreaterThan(0);
    expect(await swarm().containers('nginx')).toEqual([nginxBefore]);

    const stockBefore = await stockOf(productId);
    const result = await traffic(() => swarm().scale('api', 2), { readers: 3, orderers: 2 });
    console.log(`scale api 4 -> 2 under load: ${summary(result)}`);
    expect(result.failures).toEqual([]);
    expect(result.orderKeys.length).toBeGreaterThan(10);
    await expectOrdersAppliedOnce(result, stockBefore);
  });

  it('when the api is updated to a new image under reads and orders, then the rolling update completes with no failed request', async () => {
    const image = `node-stack/api:${NEXT_TAG}`;
    const stockBefore = await stockOf(productId);
    let outcome = '';
    const result = await traffic(
      async () => {
        await swarm().updateImage('api', image);
        outcome = await swarm().waitForUpdate('api');
      },
      { readers: 3, orderers: 2 },
    );
    console.log(`rolling update to ${image}: ${outcome}; ${summary(result)}`);
    expect(outcome).toBe('completed');
    expect(result.failures).toEqual([]);
    const tasks = await swarm().waitConverged('api', 2);
    expect(tasks.map((task) => task.image)).toEqual([image, image]);
    await expectOrdersAppliedOnce(result, stockBefore);
  });

  it('when the api is updated to an image whose health check fails, then Swarm rolls it back by itself with no failed request', async () => {
    const good = await swarm().image('api');
    const stockBefore = await stockOf(productId);
    let outcome = '';
    const started = Date.now();
    const result = await traffic(
      async () => {
        await swarm().updateImage('api', `node-stack/api:${BROKEN_TAG}`);
        outcome = await swarm().waitForUpdate('api');
      },
      { readers: 2, orderers: 1 },
    );
    console.log(
      `update to ${BROKEN_TAG}: ${outcome} after ${((Date.now() - started) / 1000).toFixed(0)} s; ${summary(result)}`,
    );
    expect(outcome).toBe('rollback_completed');
    expect(result.failures).toEqual([]);
    expect(await swarm().image('api')).toBe(good);
    const tasks = await swarm().waitConverged('api', 2);
    expect(tasks.map((task) => task.image)).toEqual([good, good]);
    await expectOrdersAppliedOnce(result, stockBefore);
  });

  it("when one api task's container is killed under a stream of GETs, then no GET fails and Swarm replaces the task", async () => {
    const [victim] = await swarm().tasks('api');
    if (victim === undefined) throw new Error('no api task');
    const result = await traffic(() => swarm().kill(victim), { readers: 6, orderers: 0 });
    const started = Date.now();
    const tasks = await swarm().waitConverged('api', 2);
    console.log(
      `docker kill of ${victim.id.slice(0, 12)}: ${summary(result)}; replaced, 2 healthy tasks again ` +
        `${((Date.now() - started) / 1000).toFixed(0)} s after the stream ended`,
    );
    expect(result.failures).toEqual([]);
    expect(result.reads).toBeGreaterThan(100);
    expect(tasks.map((task) => task.id)).not.toContain(victim.id);
  });
});
