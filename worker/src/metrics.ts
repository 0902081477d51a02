/**
 * Prometheus metrics of the job tier, served by the worker's health server (/metrics):
 *   bullmq_queue_jobs{queue,state}              jobs per queue and state, read from Redis at scrape time
 *   bullmq_job_duration_seconds{queue,status}   processing time of each finished attempt
 *   bullmq_queue_oldest_waiting_job_age_seconds{queue}  how long the next job in line has waited (0: none waits)
 *   outbox_unpublished_events                   outbox rows waiting for the relay (grows while Redis is down)
 *   outbox_oldest_unpublished_age_seconds       the age of the oldest of them: the relay's lag (0: none waits)
 *   webhook_dead_letters                        webhook deliveries dead-lettered and not re-driven
 * A scrape never hangs on a dead dependency: each read has its own deadline and a miss leaves the
 * previous value.
 */
import type { Job, Worker } from 'bullmq';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { withDeadline, type JobQueues, type Pool } from '@stack/core';

const SCRAPE_DEADLINE_MS = 1_000;
const STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'failed',
  'completed',
  'paused',
] as const;

export function registerJobMetrics(options: { registry: Registry; queues: JobQueues; pool: Pool }) {
  const { registry, queues, pool } = options;
  new Gauge({
    name: 'bullmq_queue_jobs',
    help: 'Jobs per BullMQ queue and state (completed and failed are trimmed by the removal policy)',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      await Promise.all(
        Object.entries(queues).map(async ([name, queue]) => {
          const counts = await withDeadline(queue.getJobCounts(...STATES), SCRAPE_DEADLINE_MS, undefined);
          if (!counts) return;
          for (const state of STATES) this.set({ queue: name, state }, counts[state] ?? 0);
        }),
      );
    },
  });
  registerWaitingAgeGauge(registry, queues);
  registerPostgresGauges(registry, pool);
  const duration = new Histogram({
    name: 'bullmq_job_duration_seconds',
    help: 'Processing time of finished job attempts, by queue and outcome',
    labelNames: ['queue', 'status'] as const,
    buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 180, 600],
    registers: [registry],
  });

  /** Observes every finished attempt of these workers. */
  return function observeWorkers(workers: Worker[]): void {
    for (const worker of workers) {
      const observe = (job: Job | undefined, status: 'completed' | 'failed') => {
        if (job?.processedOn && job.finishedOn) {
          duration.observe({ queue: worker.name, status }, (job.finishedOn - job.processedOn) / 1_000);
        }
      };
      worker.on('completed', (job) => observe(job, 'completed'));
      worker.on('failed', (job) => observe(job, 'failed'));
    }
  };
}

/**
 * The wait list's oldest job (BullMQ pushes new jobs on the left and takes from the right: ascending order reads the
 * right end). Its age counts from when it was added plus its delay, so a scheduled or backed-off job's wait for its
 * own delay is not lag.
 */
function registerWaitingAgeGauge(registry: Registry, queues: JobQueues): void {
  new Gauge({
    name: 'bullmq_queue_oldest_waiting_job_age_seconds',
    help: 'Seconds the oldest waiting job of each queue has been ready to run (0 when none waits)',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      await Promise.all(
        Object.entries(queues).map(async ([name, queue]) => {
          const jobs = await withDeadline(queue.getJobs('wait', 0, 0, true), SCRAPE_DEADLINE_MS, undefined);
          if (!jobs) return;
          const oldest = jobs[0];
          const age = oldest ? (Date.now() - oldest.timestamp - oldest.delay) / 1_000 : 0;
          this.set({ queue: name }, Math.max(0, age));
        }),
      );
    },
  });
}

/** Outbox backlog and lag, and the dead letters: one small query each (all three read partial indexes). */
function registerPostgresGauges(registry: Registry, pool: Pool): void {
  const gauge = (name: string, help: string, sql: string) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const result = await withDeadline(pool.query<{ value: number }>(sql), SCRAPE_DEADLINE_MS, undefined);
        if (result?.rows[0]) this.set(result.rows[0].value);
      },
    });
  gauge(
    'outbox_unpublished_events',
    'Outbox rows not yet relayed to the queue Redis',
    'SELECT count(*)::int AS value FROM outbox WHERE published_at IS NULL',
  );
  gauge(
    'outbox_oldest_unpublished_age_seconds',
    'Seconds since the oldest unrelayed outbox row was written (0 when none waits)',
    `SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS value
       FROM outbox WHERE published_at IS NULL`,
  );
  gauge(
    'webhook_dead_letters',
    'Webhook deliveries dead-lettered (status dead) and not re-driven',
    "SELECT count(*)::int AS value FROM webhook_deliveries WHERE status = 'dead'",
  );
}
