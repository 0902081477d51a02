/**
 * Prometheus metrics of the job tier, served by the worker's health server (/metrics):
 *   bullmq_queue_jobs{queue,state}              jobs per queue and state, read from Redis at scrape time
 *   bullmq_job_duration_seconds{queue,status}   processing time of each finished attempt
 *   outbox_unpublished_events                   outbox rows waiting for the relay (grows while Redis is down)
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
  new Gauge({
    name: 'outbox_unpublished_events',
    help: 'Outbox rows not yet relayed to the queue Redis',
    registers: [registry],
    async collect() {
      const result = await withDeadline(
        pool.query<{ count: number }>('SELECT count(*) AS count FROM outbox WHERE published_at IS NULL'),
        SCRAPE_DEADLINE_MS,
        undefined,
      );
      if (result?.rows[0]) this.set(result.rows[0].count);
    },
  });
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
