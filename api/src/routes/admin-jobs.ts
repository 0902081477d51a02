/**
 * The job tier's HTTP surface, for admins: sales reports, catalog imports, webhook endpoints and dead
 * letters under /api/v1/admin, and the queue UI at /admin/queues. The handlers live beside it (imports.ts,
 * reports.ts, webhooks.ts, queue-board.ts); the work itself is queued through the outbox and done by the worker.
 */
import type { JobQueues, Pool } from '@stack/core';
import type { Authenticator } from '../http/auth.js';
import type { ApiModule } from '../http/route.js';
import { importRoutes } from './imports.js';
import { queueBoardModule } from './queue-board.js';
import { reportRoutes } from './reports.js';
import { webhookRoutes } from './webhooks.js';

export interface AdminJobsDeps {
  pool: Pool;
  /** BullMQ queues on the api's producer connection: read by the queue UI only (the api never enqueues). */
  queues: JobQueues;
  authenticator: Authenticator;
  tokenPepper: string;
  importMaxBytes: number;
  queueBoardSessionTtlSeconds: number;
}

export function adminJobsModules(deps: AdminJobsDeps): ApiModule[] {
  const { pool } = deps;
  return [
    {
      prefix: '/api/v1',
      routes: [
        ...reportRoutes({ pool }),
        ...importRoutes({ pool, maxBytes: deps.importMaxBytes }),
        ...webhookRoutes({ pool }),
      ],
    },
    queueBoardModule({
      pool,
      queues: deps.queues,
      authenticator: deps.authenticator,
      tokenPepper: deps.tokenPepper,
      sessionTtlSeconds: deps.queueBoardSessionTtlSeconds,
    }),
  ];
}
