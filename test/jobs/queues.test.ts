/**
 * Queue behaviour of the stack's worker: invalid payloads, the options real jobs carry, and the
 * Prometheus metrics of the job tier.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { outboxJobId, QUEUES, type Redis } from '@stack/core';
import { bearer, startWithAdmin, waitFor, type TestApi } from './support.js';
import { stack } from '../support/stack.js';

let api: TestApi;
let admin: { token: string };
let reports: Queue;

beforeAll(async () => {
  ({ api, admin } = await startWithAdmin());
  reports = new Queue(QUEUES.reports, { connection: api.queueRedis as Redis });
});

afterAll(async () => {
  await reports?.close();
  await api?.close();
});

describe('job queues', () => {
  it('when a job payload is invalid, then it fails at once without using its retries', async () => {
    const job = await reports.add('report', { reportId: 'not-a-uuid', extra: true }, { attempts: 3 });
    const failed = await waitFor('job failed', async () =>
      (await job.getState()) === 'failed' ? reports.getJob(job.id as string) : undefined,
    );
    expect(failed?.failedReason).toMatch(
      /^invalid reports\/report payload: reportId: .*; data: Unrecognized key: "extra"/,
    );
    // BullMQ counts the one attempt that ran; an ordinary failure would be retried up to 3.
    expect(failed?.attemptsMade).toBe(1);
    await failed?.remove();
  });

  it('when a report is requested, then its job carries bounded attempts, backoff and removal settings', async () => {
    const response = await fetch(`${api.url}/api/v1/admin/reports`, {
      method: 'POST',
      headers: { ...bearer(admin.token), 'Content-Type': 'application/json' },
      body: JSON.stringify({ from: '1950-01-01', to: '1950-01-02' }),
    });
    const { id } = (await response.json()) as { id: string };
    const { rows } = await api.pool.query<{ id: number }>(`SELECT id FROM outbox WHERE payload->>'reportId' = $1`, [
      id,
    ]);
    const job = await waitFor('report job completed', async () => {
      const found = await reports.getJob(outboxJobId(rows[0]?.id as number));
      return found && (await found.getState()) === 'completed' ? found : undefined;
    });
    expect(job.opts).toMatchObject({
      attempts: 3,
      backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 },
      removeOnComplete: { age: 86_400, count: 1_000 },
      removeOnFail: { age: 604_800, count: 5_000 },
    });
    expect(job.returnvalue).toEqual({ outcome: 'completed', rowCount: 0 });
  });

  it('when jobs have run, then the worker exposes queue depth, job durations and the outbox backlog', async () => {
    const metrics = await (await fetch(stack().env.WORKER_1_METRICS_URL as string)).text();
    for (const queue of Object.values(QUEUES)) {
      expect(metrics).toMatch(new RegExp(`^bullmq_queue_jobs\\{queue="${queue}",state="waiting"\\} \\d+$`, 'm'));
    }
    expect(metrics).toMatch(/^bullmq_queue_jobs\{queue="reports",state="completed"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^bullmq_job_duration_seconds_count\{queue="reports",status="completed"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^bullmq_job_duration_seconds_count\{queue="reports",status="failed"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^outbox_unpublished_events \d+$/m);
    expect(metrics).toMatch(/^outbox_oldest_unpublished_age_seconds \d+(\.\d+)?$/m);
    expect(metrics).toMatch(/^webhook_dead_letters \d+$/m);
    expect(metrics).toMatch(/^bullmq_queue_oldest_waiting_job_age_seconds\{queue="reports"\} \d+(\.\d+)?$/m);
    const health = await fetch(stack().env.WORKER_1_HEALTH_URL as string);
    expect(await health.json()).toEqual({ status: 'ok' });
  });
});
