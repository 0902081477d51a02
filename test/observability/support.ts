/**
 * Reading a live Prometheus from tests (its HTTP API: https://prometheus.io/docs/prometheus/latest/querying/api/),
 * and the Prometheus of the native test stack (tools/stack/native/observability.ts), started once per file.
 */
import { NativeObservability } from '../../tools/stack/native/observability.ts';
import { nativeStack, repoRoot } from '../support/stack.ts';

export { waitFor } from '../jobs/support.ts';

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
