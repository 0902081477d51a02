/**
 * Reading a live Prometheus from tests (its HTTP API: https://prometheus.io/docs/prometheus/latest/querying/api/),
 * and the Prometheus of the native test stack (tools/stack/native/observability.ts), started once per file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NativeObservability } from '../../tools/stack/native/observability.ts';
import { waitFor } from '../jobs/support.ts';
import { nativeStack, repoRoot } from '../support/stack.ts';

export { waitFor };

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Target {
  labels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

export interface Alert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}

async function apiGet<T>(base: string, path: string): Promise<T> {
  const response = await fetch(`${base}/api/v1/${path}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`${path}: ${body.error ?? response.status}`);
  return body.data;
}

/** An instant query; throws with Prometheus' message when the expression does not parse. */
export async function query(base: string, expr: string): Promise<Sample[]> {
  const data = await apiGet<{ resultType: string; result: Sample[] }>(base, `query?query=${encodeURIComponent(expr)}`);
  return data.result;
}

export const activeTargets = async (base: string): Promise<Target[]> =>
  (await apiGet<{ activeTargets: Target[] }>(base, 'targets')).activeTargets;

export const alerts = async (base: string): Promise<Alert[]> =>
  (await apiGet<{ alerts: Alert[] }>(base, 'alerts')).alerts;

/** Prometheus and the exporters beside the native test stack; `down` stops them. */
export async function startNativePrometheus(): Promise<{ url: string; down: () => Promise<void> }> {
  const observability = new NativeObservability(nativeStack().dir, repoRoot);
  const url = await observability.up();
  return { url, down: () => observability.down() };
}

export const dashboardDir = join(repoRoot, 'observability', 'grafana', 'dashboards');

/** Every panel query of the named dashboards (file names without .json; default all), with where it is. */
export function panelQueries(names?: string[]): { where: string; expr: string }[] {
  const files =
    names?.map((name) => `${name}.json`) ?? readdirSync(dashboardDir).filter((file) => file.endsWith('.json'));
  return files.flatMap((file) => {
    const dashboard = JSON.parse(readFileSync(join(dashboardDir, file), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    return dashboard.panels.flatMap((panel) =>
      panel.targets.map((target) => ({ where: `${file} / ${panel.title}`, expr: target.expr })),
    );
  });
}

/**
 * Polls until every query parses and returns at least one series, or `timeoutMs` passes; returns the queries that
 * still fail, with the reason (empty when all have data).
 */
export async function panelsWithoutData(
  base: string,
  queries: { where: string; expr: string }[],
  timeoutMs: number,
): Promise<string[]> {
  const failing = async () =>
    (
      await Promise.all(
        queries.map(async ({ where, expr }) => {
          try {
            return (await query(base, expr)).length > 0 ? undefined : `${where}: no series for ${expr}`;
          } catch (error) {
            return `${where}: ${(error as Error).message}`;
          }
        }),
      )
    ).filter((problem) => problem !== undefined);
  let last: string[] = [];
  await waitFor(
    'every panel query has data',
    async () => {
      last = await failing();
      return last.length === 0 ? true : undefined;
    },
    timeoutMs,
    2_000,
  ).catch(() => undefined);
  return last;
}
