/**
 * The repository's Prometheus configuration and rules against the native stack (acceptance 3 of issue 14): every
 * api replica and the worker are up targets, and stopping a replica fires ApiReplicaDown for it (native.yml scrapes
 * and evaluates every 5 s; the rule waits 30 s).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start, stack, stop } from '../support/stack.ts';
import { activeTargets, alerts, startNativePrometheus, waitFor } from './support.ts';

let prometheus: Awaited<ReturnType<typeof startNativePrometheus>>;

beforeAll(async () => {
  prometheus = await startNativePrometheus();
});

afterAll(async () => {
  await prometheus?.down();
});

/** `job/instance` of every target whose last scrape succeeded, sorted. */
const upTargets = async () =>
  (await activeTargets(prometheus.url))
    .filter((target) => target.health === 'up')
    .map((target) => `${target.labels.job}/${target.labels.instance}`)
    .sort();

describe('Prometheus on the native stack', () => {
  it('when Prometheus scrapes the native stack, then every api replica, the worker and the exporters are up', async () => {
    const expected = [
      ...stack().apiNames.map((name) => `api/${name}`),
      'nginx/nginx',
      'postgres/postgres',
      'prometheus/prometheus',
      'redis/redis-cache',
      'redis/redis-queue',
      'worker/worker-1',
    ].sort();
    let up: string[] = [];
    // A target's health is "unknown" until its first scrape (5 s apart).
    await waitFor(
      'every target up',
      async () => {
        up = await upTargets();
        return up.join(' ') === expected.join(' ') ? true : undefined;
      },
      30_000,
      1_000,
    ).catch(() => undefined);
    expect(up).toEqual(expected);
    // Pending is possible for a moment (absent() before the first scrape); firing is not.
    expect((await alerts(prometheus.url)).filter((alert) => alert.state === 'firing')).toEqual([]);
  });

  it('when an api replica is stopped, then ApiReplicaDown fires for it, and no other replica is named', async () => {
    const victim = stack().apiNames.at(-1) as string;
    const started = Date.now();
    await stop(victim);
    try {
      const firing = await waitFor(
        `ApiReplicaDown firing for ${victim}`,
        async () => {
          const down = (await alerts(prometheus.url)).filter((alert) => alert.labels.alertname === 'ApiReplicaDown');
          return down.some((alert) => alert.state === 'firing') ? down : undefined;
        },
        90_000,
        1_000,
      );
      console.log(`ApiReplicaDown firing ${Math.round((Date.now() - started) / 1000)} s after stopping ${victim}`);
      expect(firing.map((alert) => [alert.labels.instance, alert.labels.severity])).toEqual([[victim, 'critical']]);
    } finally {
      await start(victim);
    }
  }, 150_000);
});
