/**
 * Delay before webhook retry n (n = failed attempts so far, from 1): exponential from `baseMs`,
 * capped at `maxMs`, with "equal jitter" (a random point in the upper half of the step): receivers
 * that come back after an outage are not hit by every queued retry in the same instant, and a retry
 * never comes sooner than half its step.
 * https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export interface WebhookBackoff {
  baseMs: number;
  maxMs: number;
}

export function webhookRetryDelay(failedAttempts: number, backoff: WebhookBackoff, random = Math.random): number {
  const step = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, failedAttempts - 1));
  return Math.round(step / 2 + random() * (step / 2));
}
