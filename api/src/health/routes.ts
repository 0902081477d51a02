import type { Pool, Redis } from '@stack/core';
import { pingRedis, withDeadline } from '@stack/core';
import { z } from 'zod';
import { routeGroup, type ApiModule } from '../http/route.js';
import { named } from '../http/schemas.js';

const route = routeGroup({ tag: 'Operations', access: 'public' });

export interface Lifecycle {
  /** True from SIGTERM on: readiness turns 503 so the edge stops choosing this replica. */
  draining: boolean;
}

/** Readiness waits this long for each dependency; a hung dependency means "not ready", not a hung probe. */
const READINESS_TIMEOUT_MS = 1_000;

const readinessSchema = named(
  'Readiness',
  z.strictObject({
    status: z.enum(['ready', 'draining', 'unavailable']),
    checks: z.strictObject({ postgres: z.boolean(), redisCache: z.boolean(), redisQueue: z.boolean() }),
  }),
);

interface ReadinessDeps {
  pool: Pool;
  cacheRedis: Redis;
  queueRedis: Redis;
  lifecycle: Lifecycle;
}

/** What /readyz answers (and the api_ready metric reports): every dependency checked at once, each bounded. */
export async function checkReadiness(deps: ReadinessDeps) {
  const [postgres, cache, queue] = await Promise.all([
    withDeadline(
      deps.pool.query('SELECT 1').then(() => true),
      READINESS_TIMEOUT_MS,
      false,
    ),
    pingRedis(deps.cacheRedis, READINESS_TIMEOUT_MS),
    pingRedis(deps.queueRedis, READINESS_TIMEOUT_MS),
  ]);
  const checks = { postgres, redisCache: cache, redisQueue: queue };
  const ready = !deps.lifecycle.draining && postgres;
  const status = ready ? 'ready' : deps.lifecycle.draining ? 'draining' : 'unavailable';
  return { ready, status, checks };
}

export function healthModule(deps: ReadinessDeps): ApiModule {
  const routes = [
    // Liveness: the event loop answers. Never checks dependencies, or a Postgres outage would make
    // the orchestrator restart every healthy replica.
    route({
      method: 'get',
      path: '/healthz',
      operationId: 'liveness',
      summary: 'Liveness',
      responses: {
        200: {
          description: 'The process answers.',
          schema: named('Liveness', z.strictObject({ status: z.literal('ok') })),
        },
      },
      handler: (_input, _req, res) => {
        res.set('Cache-Control', 'no-store').json({ status: 'ok' });
      },
    }),
    // Readiness: 503 while draining or when Postgres, without which the api can serve nothing, is
    // down. Both Redis servers are reported but not required: without the cache the api fails open
    // (reads go to Postgres); without the queue every accepted order, report and import still goes
    // through the Postgres outbox and waits there. Taking every replica out of rotation for either
    // would turn a degraded api into no api.
    route({
      method: 'get',
      path: '/readyz',
      operationId: 'readiness',
      summary: 'Readiness',
      description:
        '503 while draining (after SIGTERM) or when Postgres does not answer within 1 s. Redis checks are reported only.',
      responses: {
        200: { description: 'Ready.', schema: readinessSchema },
        503: {
          description: 'Draining, or Postgres is down.',
          contentType: 'application/json',
          schema: readinessSchema,
        },
      },
      handler: async (_input, _req, res) => {
        const { ready, status, checks } = await checkReadiness(deps);
        res
          .status(ready ? 200 : 503)
          .set('Cache-Control', 'no-store')
          .json({ status, checks });
      },
    }),
  ];
  return { prefix: '', routes };
}
