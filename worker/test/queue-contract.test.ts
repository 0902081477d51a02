import { describe, expect, it } from 'vitest';
import { jobOptionsFor, outboxJobId, QUEUE_NAMES, QUEUES, routeOutboxRow } from '@stack/core';

describe('queue contract', () => {
  it('when any queue gets a job, then it has bounded attempts, a backoff and a removal policy', () => {
    for (const queue of QUEUE_NAMES) {
      const options = jobOptionsFor(queue, { webhookMaxAttempts: 7 });
      expect(options.attempts, queue).toBeGreaterThan(0);
      expect(options.backoff, queue).toBeDefined();
      expect(options.removeOnComplete, queue).toMatchObject({ age: expect.any(Number), count: expect.any(Number) });
      expect(options.removeOnFail, queue).toMatchObject({ age: expect.any(Number), count: expect.any(Number) });
    }
    expect(jobOptionsFor(QUEUES.webhooks, { webhookMaxAttempts: 7 }).attempts).toBe(7);
  });

  it('when an outbox row is a job request, then it goes to its queue with its payload as data', () => {
    const row = { id: 9, event_type: 'report.requested', payload: { reportId: 'r' }, created_at: new Date(0) };
    expect(routeOutboxRow(row)).toEqual({ queue: 'reports', jobName: 'report', data: { reportId: 'r' } });
  });

  it('when an outbox row is a domain event, then it goes to the events queue with its id and time', () => {
    const row = { id: 10, event_type: 'order.created', payload: { orderId: 1 }, created_at: new Date(0) };
    expect(routeOutboxRow(row)).toEqual({
      queue: 'events',
      jobName: 'order.created',
      data: { outboxId: 10, type: 'order.created', payload: { orderId: 1 }, occurredAt: '1970-01-01T00:00:00.000Z' },
    });
  });

  it('when a job id is made from an outbox id, then it is the outbox id behind a prefix (BullMQ refuses integer custom ids)', () => {
    expect(outboxJobId(42)).toBe('outbox-42');
  });
});
