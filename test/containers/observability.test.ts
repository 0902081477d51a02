/**
 * The compose profile `observability` on a real engine (acceptance 1 of issue 14): Prometheus follows
 * `--scale api=3` and back to 2 through Docker's DNS without a reload, and after a short load every panel query of
 * the overview, data-tier and jobs dashboards returns data. Not here: Grafana (its image can neither be pulled nor
 * built on our machines; the panel queries are its check), and the edge dashboard (it reads nginx's access log
 * through mtail, which the compose profile does not run; test/observability/dashboards.test.ts checks it natively).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../tools/stack/native/plan.ts';
import { activeTargets, panelQueries, panelsWithoutData, waitFor } from '../observability/support.ts';
import { describeStack, loadtestHeaders, repoRoot, runCommand, runningStack, scale, stack } from '../support/stack.js';
import { compose } from './support/compose.js';

const SERVICES = ['prometheus', 'postgres-exporter', 'redis-cache-exporter', 'redis-queue-exporter'];
let variables: Record<string, string> = {};
let prometheusUrl = '';

/** The profile's images: stand-ins when the set-up ran stand-ins (no registry), else the upstream tags. */
async function imageVariables(): Promise<Record<string, string>> {
  const current = runningStack();
  if (current.mode !== 'compose' || current.project.variables.NGINX_IMAGE === undefined) return {};
  const output = await runCommand('bash', [
    join(repoRoot, 'scripts/standins/build.sh'),
    '--env',
    'prometheus',
    'postgres-exporter',
    'redis-exporter',
  ]);
  return Object.fromEntries(
    [...output.matchAll(/^(PROMETHEUS_IMAGE|POSTGRES_EXPORTER_IMAGE|REDIS_EXPORTER_IMAGE)=(\S+)$/gm)].map((match) => [
      match[1] as string,
      match[2] as string,
    ]),
  );
}

const upApiTargets = async () =>
  (await activeTargets(prometheusUrl)).filter((target) => target.labels.job === 'api' && target.health === 'up').length;

describeStack('the observability profile', () => {
  beforeAll(async () => {
    const port = await freePort();
    variables = { ...(await imageVariables()), PROMETHEUS_HOST_PORT: String(port) };
    await compose(['--profile', 'observability', 'up', '--detach', '--wait', ...SERVICES], variables);
    prometheusUrl = `http://127.0.0.1:${port}`;
  }, 600_000);

  afterAll(async () => {
    await compose(['--profile', 'observability', 'rm', '--stop', '--force', '--volumes', ...SERVICES], variables);
    await scale(1);
  });

  it('when api is scaled to 3 and back to 2, then Prometheus scrapes 3 api targets, then 2', async () => {
    await scale(3);
    await waitFor('3 api targets up', async () => ((await upApiTargets()) === 3 ? true : undefined), 90_000, 1_000);
    await scale(2);
    // A removed replica leaves Docker's DNS answer at once; Prometheus drops it at its next refresh (5 s).
    await waitFor('2 api targets', async () => ((await upApiTargets()) === 2 ? true : undefined), 60_000, 1_000);
    const targets = await activeTargets(prometheusUrl);
    expect(targets.filter((target) => target.labels.job === 'api').map((target) => target.health)).toEqual([
      'up',
      'up',
    ]);
    expect(targets.filter((target) => target.health !== 'up').map((target) => target.labels.job)).toEqual([]);
  }, 240_000);

  it('when a short load has been scraped, then every overview, data-tier and jobs panel query returns data', async () => {
    const headers = loadtestHeaders();
    for (let round = 0; round < 30; round += 1) {
      await Promise.all(
        ['/api/v1/products?limit=5', '/api/v1/categories', `/api/v1/products/${900_000 + round}`].map(async (path) =>
          (await fetch(`${stack().nginxUrl}${path}`, { headers })).arrayBuffer(),
        ),
      );
    }
    // 15 s scrapes: rate() over 1m and 5m windows has two samples after 30 s, the recording rules 15 s later.
    const queries = panelQueries(['overview', 'data-tier', 'jobs']);
    expect(await panelsWithoutData(prometheusUrl, queries, 120_000)).toEqual([]);
  }, 240_000);
});
