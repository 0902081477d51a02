/**
 * Queue names, job payload schemas and job options: the contract between whoever enqueues (the outbox
 * relay and the worker's own fan-out) and whoever runs the jobs (the worker). Both import it from
 * here; nothing is copied. The api never enqueues directly: it writes an outbox row in the same
 * transaction as the work it accepts (see core/src/outbox), so a request answered 202 is never lost,
 * even with the queue Redis down. The api only builds Queue objects for bull-board.
 */
import { Queue, type JobsOptions, type QueueOptions } from 'bullmq';
import { z } from 'zod';
import type { Redis } from './redis.js';

export const QUEUES = {
  /** Small operational jobs; `system.echo` proves the worker path end to end. */
  system: 'system',
  /** Domain events from the outbox (`order.created`, ...): fanned out into one webhook delivery per endpoint. */
  events: 'events',
  /** Sales reports: stream orders through a cursor, store the CSV. */
  reports: 'reports',
  /** Catalog imports: stream the uploaded file, validate rows, upsert in batches. */
  imports: 'imports',
  /** One job per webhook delivery (signed POST, retried with backoff, then dead-lettered). */
  webhooks: 'webhooks',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
export const QUEUE_NAMES = Object.values(QUEUES) as readonly QueueName[];

export const echoJobSchema = z.strictObject({ message: z.string().max(1_000) });
export type EchoJob = z.infer<typeof echoJobSchema>;

/** `events` queue: one outbox row, as the relay publishes it. */
export const eventJobSchema = z.strictObject({
  outboxId: z.number().int().positive(),
  type: z.string().min(1).max(100),
  payload: z.record(z.string(), z.unknown()),
  occurredAt: z.iso.datetime({ offset: true }),
});
export type EventJob = z.infer<typeof eventJobSchema>;

export const reportJobSchema = z.strictObject({ reportId: z.uuid() });
export type ReportJob = z.infer<typeof reportJobSchema>;

export const importJobSchema = z.strictObject({ importId: z.uuid() });
export type ImportJob = z.infer<typeof importJobSchema>;

export const webhookJobSchema = z.strictObject({ deliveryId: z.uuid() });
export type WebhookJob = z.infer<typeof webhookJobSchema>;

/** The custom backoff type of webhook jobs; the worker resolves it (capped exponential with full jitter). */
export const WEBHOOK_BACKOFF_TYPE = 'webhook';

/**
 * Finished jobs are trimmed so Redis does not grow forever: completed ones after a day or beyond the
 * newest 1,000, failed ones after a week or beyond 5,000 (kept longer for inspection in bull-board).
 * Eviction is best effort, on the next finished job. https://docs.bullmq.io/guide/queues/auto-removal-of-jobs
 */
const REMOVAL = {
  removeOnComplete: { age: 24 * 3_600, count: 1_000 },
  removeOnFail: { age: 7 * 24 * 3_600, count: 5_000 },
} as const;

/** Defaults for small jobs: a bounded number of attempts, exponential backoff with jitter. */
export const DEFAULT_JOB_OPTIONS = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1_000, jitter: 0.5 },
  ...REMOVAL,
} as const satisfies JobsOptions;

export interface JobQueueSettings {
  /** Attempts of one webhook delivery job before the delivery is dead-lettered. */
  webhookMaxAttempts: number;
}

/**
 * Retries, backoff and removal for every queue. https://docs.bullmq.io/guide/retrying-failing-jobs
 * - events: the fan-out only touches Postgres and Redis, so it retries often and fast;
 * - reports, imports: a few attempts, seconds apart (a transient Postgres hiccup; a killed worker's
 *   job comes back through the stalled check, which does not use up an attempt);
 * - webhooks: the bound is a setting, the delay comes from the worker's backoff strategy.
 */
export function jobOptionsFor(queue: QueueName, settings: JobQueueSettings): JobsOptions {
  switch (queue) {
    case QUEUES.events:
      return { attempts: 10, backoff: { type: 'exponential', delay: 500, jitter: 0.5 }, ...REMOVAL };
    case QUEUES.reports:
    case QUEUES.imports:
      return { attempts: 3, backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 }, ...REMOVAL };
    case QUEUES.webhooks:
      return { attempts: settings.webhookMaxAttempts, backoff: { type: WEBHOOK_BACKOFF_TYPE }, ...REMOVAL };
    default:
      return { ...DEFAULT_JOB_OPTIONS };
  }
}

export type JobQueues = Readonly<Record<QueueName, Queue>>;

/**
 * One BullMQ Queue per name on a producer connection (fails fast while Redis is down, see
 * createQueueRedis). `prefix` separates key spaces (tests use a random one). Each queue's `error`
 * events are logged by the caller through `onError`; an unhandled one would crash the process.
 */
export function createJobQueues(options: {
  connection: Redis;
  settings: JobQueueSettings;
  prefix?: string;
  onError: (queue: QueueName, error: Error) => void;
}): JobQueues {
  const entries = QUEUE_NAMES.map((name) => {
    const queueOptions: QueueOptions = {
      connection: options.connection,
      defaultJobOptions: jobOptionsFor(name, options.settings),
      ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
    };
    const queue = new Queue(name, queueOptions);
    queue.on('error', (error) => options.onError(name, error));
    return [name, queue] as const;
  });
  return Object.fromEntries(entries) as Record<QueueName, Queue>;
}

export async function closeJobQueues(queues: JobQueues): Promise<void> {
  await Promise.all(Object.values(queues).map((queue) => queue.close()));
}

/** Where an outbox row goes: a queue, a job name and the job data. */
export interface OutboxRoute {
  queue: QueueName;
  jobName: string;
  data: unknown;
}

export interface OutboxRow {
  id: number;
  event_type: string;
  payload: Record<string, unknown>;
  created_at: Date;
}

/**
 * Outbox rows that are job requests go to their queue with their payload as the job data
 * (`report.requested` -> reports, ...). Every other row is a domain event for the `events` queue,
 * which fans it out to the webhook endpoints subscribed to its type.
 */
export const JOB_REQUEST_EVENTS = {
  'report.requested': { queue: QUEUES.reports, jobName: 'report' },
  'import.requested': { queue: QUEUES.imports, jobName: 'import' },
  'webhook.redrive': { queue: QUEUES.webhooks, jobName: 'deliver' },
} as const satisfies Record<string, { queue: QueueName; jobName: string }>;

export function routeOutboxRow(row: OutboxRow): OutboxRoute {
  const request = JOB_REQUEST_EVENTS[row.event_type as keyof typeof JOB_REQUEST_EVENTS];
  if (request) return { queue: request.queue, jobName: request.jobName, data: row.payload };
  const data: EventJob = {
    outboxId: row.id,
    type: row.event_type,
    payload: row.payload,
    occurredAt: row.created_at.toISOString(),
  };
  return { queue: QUEUES.events, jobName: row.event_type, data };
}

/**
 * The job id of an outbox row: BullMQ ignores an `add` whose id it already holds, so a relay that
 * publishes a row twice (crash between enqueue and commit) enqueues it once. Custom ids may not be
 * plain integers in BullMQ, hence the prefix.
 */
export const outboxJobId = (outboxId: number): string => `outbox-${outboxId}`;
