/**
 * The one way tools and tests reach a running stack, whichever way it runs:
 *   native   processes from local binaries (tools/stack/native/native-stack.ts; `make native-up`);
 *   compose  containers on a Docker engine (tools/stack/compose/compose-stack.ts; `make up`).
 * Services and replicas have the same names in both (`postgres`, `redis-cache`, `redis-queue`, `nginx`, `api-1`,
 * `worker-1`...), and every action means what it means to Docker: stop (graceful, or a kill), start (and wait until
 * healthy), pause and resume (freeze: connections are accepted by the kernel, nothing is answered).
 */

export type StackMode = 'native' | 'compose';

/** SIGTERM: graceful drain, SIGKILL at the deadline (docker stop); SIGKILL: at once (docker kill). */
export type StopSignal = 'SIGTERM' | 'SIGKILL';

export interface StackAddresses {
  /** The stack's settings as KEY=VALUE (native: stack.env; compose: what the set-up passed). */
  env: Record<string, string>;
  databaseUrl: string;
  /** A superuser connection (scratch databases, pg_stat views). */
  databaseAdminUrl: string;
  redisCacheUrl: string;
  redisQueueUrl: string;
  nginxUrl: string;
  /** The api replicas that exist now, in the order of their names (api-1, api-2, ...). */
  apiUrls: string[];
  apiMetricsUrls: string[];
  apiNames: string[];
  tokenPepper: string;
  /** The X-Loadtest-Key value that skips nginx's per-IP rate limits ('' when the stack has none). */
  loadtestKey: string;
}

export interface Stack {
  readonly mode: StackMode;
  addresses(): StackAddresses;
  /** Takes a service down and keeps it down until `start` (default SIGTERM). */
  stop(name: string, signal?: StopSignal): Promise<void>;
  /** Starts a service that is down (a no-op for a running one) and waits until it is healthy. `env`: native only. */
  start(name: string, env?: Record<string, string>): Promise<void>;
  pause(name: string): Promise<void>;
  resume(name: string): Promise<void>;
  /** Exactly `count` api replicas (compose; native mode's replica count is fixed at `up` and this throws). */
  scale(count: number): Promise<void>;
  /** nginx's JSON access log so far. */
  accessLog(): Promise<string>;
}
