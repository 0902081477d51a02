/**
 * How the swarm tests reach the stack their global set-up deployed (global-setup.ts), and what they check it with:
 * nginx's access log (which api task served a request) and psql in the postgres task.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, inject } from 'vitest';
import { SwarmStack, type SwarmDeployment } from '../../../tools/stack/swarm/swarm-stack.ts';

/** describe(), or describe.skip() with the reason when the set-up found no engine. */
export function describeSwarm(name: string, body: () => void): void {
  describeUnless(inject('swarmEnv').SKIP_REASON, name, body);
}

/** describe(), or describe.skip() with `skipReason` when there is one (the swarm-nodes project's too). */
export function describeUnless(skipReason: string | undefined, name: string, body: () => void): void {
  if (skipReason) describe.skip(`${name} [${skipReason}]`, body);
  else describe(name, body);
}

/**
 * Demo data from the image's own seed, run in an api task, for `customerToken`. As the owner role (the seed truncates
 * and analyzes; the api's own role may only write rows, db/roles.sql), from the secret file the set-up wrote.
 */
export async function seedThroughApiTask(stack: SwarmStack, customerToken: string, products = 200): Promise<void> {
  const ownerUrl = readFileSync(join(stack.deployment.dir, 'secrets', 'database_owner_url'), 'utf8').trim();
  await stack.exec('api', ['node', 'core/dist/cli/seed.js'], {
    DATABASE_URL: ownerUrl,
    // Empty counts as unset (core/src/config.ts): the task's own DATABASE_URL_FILE is app_rw's.
    DATABASE_URL_FILE: '',
    SEED_PRODUCTS: String(products),
    SEED_CUSTOMERS: '20',
    SEED_ORDERS: '20',
    DEV_ADMIN_TOKEN: `stk_swarm_admin_${randomBytes(16).toString('hex')}`,
    DEV_CUSTOMER_TOKEN: customerToken,
    LOADTEST_CUSTOMERS: '0',
  });
}

let deployed: SwarmStack | undefined;

export function swarm(): SwarmStack {
  deployed ??= new SwarmStack(JSON.parse(inject('swarmEnv').DEPLOYMENT ?? 'null') as SwarmDeployment);
  return deployed;
}

/** The key the set-up gave nginx's load-test allowance: the test traffic is not rate limited. */
export const loadtestHeaders = (): Record<string, string> => ({
  'x-loadtest-key': inject('swarmEnv').LOADTEST_KEY ?? '',
});

/** Each api task's address as nginx writes it in upstream_addr (`<overlay address>:3000`). */
export async function apiTaskAddresses(): Promise<string[]> {
  const containers = await swarm().containers('api');
  // nginx reaches the api over the edge network (docker-stack.yml).
  const network = `${swarm().deployment.name}_edge`;
  const byNetwork = `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`;
  const out = await swarm().docker(['inspect', '--format', byNetwork, ...containers], { stderr: false });
  return out
    .split('\n')
    .filter(Boolean)
    .map((address) => `${address}:3000`);
}

/**
 * Requests to /healthz through nginx, `concurrency` at a time, until every address in `expected` has served one or
 * `timeoutMs` passed; returns how many each upstream address served (from nginx's access log, by request id).
 * `target`: another deployment and its headers (the swarm-nodes project's); default this project's.
 */
export async function spreadOver(
  expected: string[],
  timeoutMs = 30_000,
  target: { stack: SwarmStack; headers: Record<string, string> } = { stack: swarm(), headers: loadtestHeaders() },
): Promise<Map<string, number>> {
  const prefix = `spread-${randomBytes(6).toString('hex')}`;
  const deadline = Date.now() + timeoutMs;
  let sent = 0;
  for (;;) {
    const statuses = await Promise.all(
      Array.from({ length: 8 }, async () => {
        sent += 1;
        const response = await fetch(`${target.stack.nginxUrl}/healthz`, {
          headers: { ...target.headers, 'x-request-id': `${prefix}-${sent}` },
        });
        await response.arrayBuffer();
        return response.status;
      }),
    );
    if (statuses.some((status) => status !== 200)) throw new Error(`/healthz answered ${statuses.join(', ')}`);
    // nginx flushes its access log buffer every second.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const served = servedCounts(await target.stack.accessLog(), prefix);
    if (expected.every((address) => (served.get(address) ?? 0) > 0) || Date.now() > deadline) return served;
  }
}

function servedCounts(log: string, requestIdPrefix: string): Map<string, number> {
  const served = new Map<string, number>();
  for (const line of log.split('\n')) {
    if (!line.startsWith('{') || !line.includes(requestIdPrefix)) continue;
    const entry = JSON.parse(line) as { request_id: string; upstream_addr: string };
    if (!entry.request_id.startsWith(requestIdPrefix)) continue;
    served.set(entry.upstream_addr, (served.get(entry.upstream_addr) ?? 0) + 1);
  }
  return served;
}
