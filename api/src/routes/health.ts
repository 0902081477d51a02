import { Router } from 'express';
import type { Pool, Redis } from '@stack/core';
import { pingRedis, withDeadline } from '@stack/core';

export interface Lifecycle {
  /** True from SIGTERM on: readiness turns 503 so the edge stops choosing this replica. */
  draining: boolean;
}

/** Readiness waits this long for each dependency; a hung dependency means "not ready", not a hung probe. */
const READINESS_TIMEOUT_MS = 1_000;

export function healthRoutes(deps: {
  pool: Pool;
  cacheRedis: Redis;
  queueRedis: Redis;
  lifecycle: Lifecycle;
}): Router {
  const router = Router();

  // Liveness: the event loop answers. Never checks dependencies, or a Postgres outage would make
  // the orchestrator restart every healthy replica.
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });

  router.get('/readyz', async (_req, res) => {
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
    const ready = !deps.lifecycle.draining && postgres && cache && queue;
    res
      .status(ready ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({ status: ready ? 'ready' : deps.lifecycle.draining ? 'draining' : 'unavailable', checks });
  });

  return router;
}
