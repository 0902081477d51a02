/**
 * What must hold once the load has stopped and the queues have drained (issue 11, "Chaos run"), each check
 * returning what it found so a broken one can be read without a debugger.
 */
import type pg from 'pg';
import type { FaultWindow } from './faults.ts';
import type { ReceivedDelivery } from './receiver.ts';
import type { ChaosData } from './setup.ts';
import type { OrderOutcome } from './traffic.ts';
import type { WindowRow } from './windows.ts';

export interface Invariant {
  name: string;
  ok: boolean;
  /** One line: the figures. */
  summary: string;
  /** What broke (or what was excused), one line each. */
  details: string[];
}

export interface StoredOrder {
  id: number;
  key: string;
  status: string;
}

export async function storedOrders(client: pg.ClientBase, data: ChaosData): Promise<StoredOrder[]> {
  const { rows } = await client.query<StoredOrder>(
    `SELECT id::int AS id, idempotency_key AS key, status FROM orders WHERE user_id = ANY($1::int[]) ORDER BY id`,
    [data.customerIds],
  );
  return rows;
}

const MAX_DETAILS = 20;
const capped = (lines: string[]) =>
  lines.length <= MAX_DETAILS ? lines : [...lines.slice(0, MAX_DETAILS), `... and ${lines.length - MAX_DETAILS} more`];

/** Every 201 exists exactly once; every stored order was answered 201, or its request ended in a transport error. */
export function checkOrders(stored: StoredOrder[], told: ReadonlyMap<string, OrderOutcome>): Invariant {
  const problems: string[] = [];
  const excused: string[] = [];
  const byKey = new Map(stored.map((order) => [order.key, order]));
  const keysById = new Map<number, string[]>();
  let created = 0;
  for (const outcome of told.values()) {
    if (outcome.status !== 201 || outcome.orderId === undefined) continue;
    created += 1;
    keysById.set(outcome.orderId, [...(keysById.get(outcome.orderId) ?? []), outcome.key]);
    const row = byKey.get(outcome.key);
    if (!row) problems.push(`key ${outcome.key} was answered 201 (order ${outcome.orderId}) but no order has that key`);
    else if (row.id !== outcome.orderId) {
      problems.push(`key ${outcome.key} was answered 201 with order ${outcome.orderId}, but order ${row.id} has it`);
    }
  }
  for (const [id, keys] of keysById)
    if (keys.length > 1) problems.push(`order ${id} was answered to ${keys.join(', ')}`);
  for (const order of stored) {
    const outcome = told.get(order.key);
    if (!outcome) problems.push(`order ${order.id} (key ${order.key}) was never sent by a client`);
    else if (outcome.status === 0) excused.push(`order ${order.id} (key ${order.key}): ${outcome.error ?? 'error'}`);
    else if (outcome.status !== 201)
      problems.push(`order ${order.id} exists, but its client was told ${outcome.status}`);
  }
  const transportErrors = [...told.values()].filter((outcome) => outcome.status === 0).length;
  return {
    name: 'orders: every 201 exists exactly once; no order nobody was told about',
    ok: problems.length === 0,
    summary:
      `${told.size} orders tried, ${created} answered 201, ${stored.length} stored; ` +
      `${transportErrors} ended in a transport error, ${excused.length} of them stored (listed)`,
    details: capped([...problems, ...excused.map((line) => `excused: ${line}`)]),
  };
}

/** For every product: initial stock = current stock + units in live orders (after lapses and cancels). */
export async function checkStock(client: pg.ClientBase, data: ChaosData): Promise<Invariant> {
  // One statement: one snapshot, even while the lapse job runs.
  const { rows } = await client.query<{ id: number; stock: number; live: number; statuses: Record<string, number> }>(
    `WITH units AS (
       SELECT oi.product_id, o.status, sum(oi.quantity)::int AS units
         FROM order_items oi JOIN orders o ON o.id = oi.order_id
        WHERE oi.product_id = ANY($1::int[]) GROUP BY 1, 2)
     SELECT p.id, p.stock,
            coalesce(sum(u.units) FILTER (WHERE u.status IN ('pending', 'paid', 'shipped')), 0)::int AS live,
            coalesce(jsonb_object_agg(u.status, u.units) FILTER (WHERE u.status IS NOT NULL), '{}') AS statuses
       FROM products p LEFT JOIN units u ON u.product_id = p.id
      WHERE p.id = ANY($1::int[]) GROUP BY p.id, p.stock ORDER BY p.id`,
    [data.productIds],
  );
  const problems: string[] = [];
  const byStatus = new Map<string, number>();
  for (const row of rows) {
    const initial = data.initialStock.get(row.id) ?? Number.NaN;
    if (initial !== row.stock + row.live) {
      problems.push(`product ${row.id}: initial ${initial} != stock ${row.stock} + live ${row.live}`);
    }
    for (const [status, units] of Object.entries(row.statuses))
      byStatus.set(status, (byStatus.get(status) ?? 0) + units);
  }
  if (rows.length !== data.productIds.length) problems.push(`${data.productIds.length - rows.length} products missing`);
  const units = [...byStatus].map(([status, count]) => `${status} ${count}`).join(', ');
  return {
    name: 'stock: initial = current + units in live orders, for every product',
    ok: problems.length === 0,
    summary: `${rows.length} products checked; units by order status: ${units || 'none'}`,
    details: capped(problems),
  };
}

/**
 * Every stored order's order.created reached the receiver at least once, each Webhook-Id always with the same body
 * and a valid signature, one event per order; duplicates only around a worker kill (a first receipt before the
 * worker was back, a later one after the kill).
 */
export function checkWebhooks(
  stored: StoredOrder[],
  received: readonly ReceivedDelivery[],
  faults: readonly FaultWindow[],
): Invariant {
  const problems: string[] = [];
  const byId = new Map<string, ReceivedDelivery[]>();
  const idsByOrder = new Map<number, Set<string>>();
  const ours = new Set(stored.map((order) => order.id));
  for (const hook of received) {
    if (hook.orderId === undefined || !ours.has(hook.orderId)) continue;
    byId.set(hook.webhookId, [...(byId.get(hook.webhookId) ?? []), hook]);
    idsByOrder.set(hook.orderId, (idsByOrder.get(hook.orderId) ?? new Set()).add(hook.webhookId));
    if (hook.event !== 'order.created') problems.push(`order ${hook.orderId}: event ${hook.event}`);
    if (!hook.signatureOk) problems.push(`Webhook-Id ${hook.webhookId}: signature does not verify`);
  }
  const missing = stored.filter((order) => !idsByOrder.has(order.id)).map((order) => order.id);
  if (missing.length > 0) problems.push(`${missing.length} orders never delivered: ${missing.slice(0, 20).join(', ')}`);
  for (const [orderId, ids] of idsByOrder) {
    if (ids.size > 1) problems.push(`order ${orderId}: ${ids.size} events (${[...ids].join(', ')})`);
  }
  const kills = faults.filter((fault) => fault.kind === 'worker-kill');
  let duplicates = 0;
  let explained = 0;
  for (const [id, hooks] of byId) {
    if (new Set(hooks.map((hook) => hook.body)).size > 1) problems.push(`Webhook-Id ${id}: bodies differ`);
    if (hooks.length < 2) continue;
    duplicates += hooks.length - 1;
    const first = Math.min(...hooks.map((hook) => hook.at));
    const last = Math.max(...hooks.map((hook) => hook.at));
    // Sent by the worker that died: received before its successor was up (a request it had written may be read
    // a moment after the kill), and again after the kill.
    const aroundKill = (kill: FaultWindow) =>
      first <= kill.restoredMs && last >= kill.startMs && kill.startMs - first < 30_000;
    if (kills.some(aroundKill)) {
      explained += hooks.length - 1;
    } else {
      const times = hooks.map((hook) => new Date(hook.at).toISOString().slice(11, 23)).join(', ');
      problems.push(
        `Webhook-Id ${id} (order ${hooks[0]?.orderId}) received ${hooks.length} times outside a worker kill: ${times}`,
      );
    }
  }
  return {
    name: 'webhooks: every order.created delivered, same body per Webhook-Id, duplicates only at a worker kill',
    ok: problems.length === 0,
    summary:
      `${stored.length} orders, ${byId.size} events received, ${missing.length} missing; ` +
      `${duplicates} duplicate receipts (${explained} around a worker kill)`,
    details: capped(problems),
  };
}

/** Only 503 problem+json with Retry-After during the Postgres outage; nothing else but the expected statuses. */
export function checkResponses(rows: readonly WindowRow[], skipped: number): Invariant {
  const problems: string[] = [];
  for (const row of rows) {
    const groups = new Map<string, number>();
    for (const sample of row.violations) {
      const what = sample.status === 0 ? `transport error ${sample.error ?? ''}` : `${sample.status}`;
      const detail =
        sample.status === 503 ? ` (problem+json ${sample.problemJson}, Retry-After ${sample.retryAfter})` : '';
      const key = `${sample.type} ${what}${detail}`;
      groups.set(key, (groups.get(key) ?? 0) + 1);
    }
    for (const [key, count] of groups) problems.push(`${row.name.trim()}: ${key} x${count}`);
  }
  if (skipped > 0) problems.push(`${skipped} requests were due while the client had too many in flight (not sent)`);
  const total = rows.reduce((sum, row) => sum + row.requests, 0);
  const violations = rows.reduce((sum, row) => sum + row.violations.length, 0);
  const allowed = rows.reduce((sum, row) => sum + row.allowed, 0);
  return {
    name: 'responses: only the expected statuses, and 503 problem+json with Retry-After while Postgres is down',
    ok: problems.length === 0,
    summary: `${total} requests under load, ${allowed} allowed 503s during the Postgres outage, ${violations} others`,
    details: capped(problems),
  };
}

/** Each worker kill landed while a delivery was in flight (otherwise it tested less than it claims). */
export function checkWorkerKills(faults: readonly FaultWindow[]): Invariant {
  const kills = faults.filter((fault) => fault.kind === 'worker-kill');
  const idle = kills.filter((kill) => kill.midJob !== true);
  return {
    name: 'worker kills landed mid-job',
    ok: idle.length === 0,
    summary: `${kills.length - idle.length} of ${kills.length} worker kills with a delivery in flight`,
    details: idle.map((kill) => `${new Date(kill.startMs).toISOString()}: no delivery in flight`),
  };
}

/** Every process is running once the faults are over: each fault started its own victim again, nothing else died. */
export function checkProcesses(
  names: readonly string[],
  isRunning: ((name: string) => boolean) | undefined,
): Invariant {
  const name = 'processes: every one still running after the faults (none crashed)';
  if (!isRunning) return { name, ok: true, summary: 'not known in this stack mode', details: [] };
  const dead = names.filter((process) => !isRunning(process));
  return {
    name,
    ok: dead.length === 0,
    summary: `${names.length - dead.length} of ${names.length} running`,
    details: dead.map((process) => `${process} is not running (see its log)`),
  };
}
