/**
 * The chaos run's clients: the mixed workload of load-tests/workload.json, drawn by the load tests' own planner
 * (load-tests/native/context.ts), sent with fetch through nginx so that every answer is kept with its time, status
 * and headers (vegeta's results would not say which Idempotency-Key an order carried). Customers also cancel some of
 * their orders and the admin marks some paid, so lapses, cancels and payments all happen while the faults run.
 *
 * Client behaviour is what the API documents: a POST answered 502 by nginx (a replica died with the request in
 * flight, and nginx never resends a POST) is repeated once with the same Idempotency-Key, and an order answered 503
 * with Retry-After is tried again (up to three times) after that many seconds; nothing else is retried.
 */
import { createRandom } from '../../load-tests/lib/workload-core.js';
import type { PlannedRequest, Workload } from '../../load-tests/lib/workload-core.js';
import type { RequestDraws } from '../../load-tests/native/context.ts';

export interface Sample {
  type: string;
  read: boolean;
  startedMs: number;
  latencyMs: number;
  /** 0: no HTTP answer (connection error or timeout). */
  status: number;
  problemJson: boolean;
  retryAfter: boolean;
  /** The Retry-After value, when it is a number of seconds. */
  retryAfterSeconds?: number;
  /** The status is one the request type expects (workload.json `expect.status`). */
  expected: boolean;
  /** A POST answered 502 that the client repeated with its key (counted apart, not as unexpected). */
  repeated: boolean;
  error?: string;
}

/** What the client was finally told about one order it tried to place. */
export interface OrderOutcome {
  key: string;
  status: number;
  orderId?: number;
  error?: string;
  startedMs: number;
}

export interface TrafficOptions {
  baseUrl: string;
  /** The load-test key header (nginx's per-address limits would otherwise measure the limiter). */
  headers: Record<string, string>;
  adminToken: string;
  workload: Workload;
  draws: RequestDraws;
  seed: number;
  /** Shares of placed orders the customer cancels and the admin marks paid right after. */
  cancelShare: number;
  payShare: number;
  timeoutMs: number;
  /** Requests in flight at most (open model); beyond, a due request is counted as skipped, never queued. */
  maxInFlight: number;
}

/** Lifecycle moves after an order was placed: not part of workload.json's mix, judged with these statuses. */
const FOLLOW_UP_EXPECT: Record<string, number[]> = { cancel_order: [200], pay_order: [200] };

export class Traffic {
  readonly samples: Sample[] = [];
  readonly orders = new Map<string, OrderOutcome>();
  skipped = 0;
  private inFlight = 0;
  private readonly pending = new Set<Promise<void>>();
  private readonly random: () => number;
  private queue: PlannedRequest[] = [];
  private readonly options: TrafficOptions;

  constructor(options: TrafficOptions) {
    this.options = options;
    this.random = createRandom(options.seed + 1);
  }

  /** `concurrency` clients, each sending its next request when the previous answered, for `seconds`: req/s. */
  async closedLoop(concurrency: number, seconds: number): Promise<number> {
    const started = performance.now();
    const deadline = started + seconds * 1000;
    let completed = 0;
    const client = async () => {
      while (performance.now() < deadline) {
        await this.send(this.nextRequest());
        completed += 1;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, client));
    return completed / ((performance.now() - started) / 1000);
  }

  /** Arrivals at `rate` per second until `running()` turns false (an open model: latency never slows arrivals). */
  async openLoop(rate: number, running: () => boolean): Promise<void> {
    const started = performance.now();
    let issued = 0;
    while (running()) {
      const due = Math.floor(((performance.now() - started) / 1000) * rate) - issued;
      for (let i = 0; i < due; i += 1) {
        issued += 1;
        if (this.inFlight >= this.options.maxInFlight) {
          this.skipped += 1;
          continue;
        }
        this.track(this.send(this.nextRequest()));
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await this.settle();
  }

  /** Waits for every request still in flight. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private track(work: Promise<void>): void {
    const tracked = work.finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
  }

  private nextRequest(): PlannedRequest {
    if (this.queue.length === 0) this.queue = this.options.draws.next(2_000);
    return this.queue.shift() as PlannedRequest;
  }

  private expectedStatuses(type: string): number[] {
    return this.options.workload.requests[type]?.expect.status ?? FOLLOW_UP_EXPECT[type] ?? [];
  }

  private async send(request: PlannedRequest): Promise<void> {
    this.inFlight += 1;
    try {
      let result = await this.attempt(request, false);
      if (request.method === 'POST' && result.status === 502) {
        result.sample.repeated = true;
        result = await this.attempt(request, true);
      }
      // A 503 with Retry-After says "try again later" (docs: api/README.md); an order is tried again with its key,
      // which also tells the client about an order whose COMMIT reached Postgres just as it went down.
      for (let retry = 0; request.type === 'create_order' && retry < 3 && result.status === 503; retry += 1) {
        const seconds = Math.min(10, Number(result.sample.retryAfterSeconds ?? 1));
        // Waiting is not a request in flight (the bound is on open requests).
        this.inFlight -= 1;
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
        this.inFlight += 1;
        result = await this.attempt(request, true);
      }
      if (request.type === 'create_order') await this.placed(request, result);
    } finally {
      this.inFlight -= 1;
    }
  }

  private async attempt(request: PlannedRequest, isRepeat: boolean) {
    const startedMs = Date.now();
    const started = performance.now();
    let status = 0;
    let body = '';
    let error: string | undefined;
    let headers: Headers | undefined;
    try {
      const response = await fetch(this.options.baseUrl + request.path, {
        method: request.method,
        headers: { ...this.options.headers, ...request.headers },
        ...(request.body === null ? {} : { body: request.body }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      body = await response.text();
      status = response.status;
      headers = response.headers;
    } catch (caught) {
      const cause = (caught as { cause?: { code?: string } }).cause;
      error = cause?.code ?? (caught as Error).name ?? String(caught);
    }
    const retryAfter = headers?.get('retry-after') ?? '';
    const sample: Sample = {
      type: isRepeat ? `${request.type} (again)` : request.type,
      read: request.method === 'GET',
      startedMs,
      latencyMs: performance.now() - started,
      status,
      problemJson: headers?.get('content-type')?.includes('application/problem+json') ?? false,
      retryAfter: /^\d+$/.test(retryAfter),
      ...(/^\d+$/.test(retryAfter) ? { retryAfterSeconds: Number(retryAfter) } : {}),
      expected: this.expectedStatuses(request.type).includes(status),
      repeated: false,
      ...(error === undefined ? {} : { error }),
    };
    this.samples.push(sample);
    return { status, body, error, sample, startedMs };
  }

  /** Records what the client was told about an order, and sometimes cancels it or has it paid. */
  private async placed(request: PlannedRequest, result: Awaited<ReturnType<Traffic['attempt']>>): Promise<void> {
    const key = request.headers['Idempotency-Key'] ?? '';
    let orderId: number | undefined;
    if (result.status === 201) orderId = (JSON.parse(result.body) as { id: number }).id;
    this.orders.set(key, {
      key,
      status: result.status,
      startedMs: result.startedMs,
      ...(orderId === undefined ? {} : { orderId }),
      ...(result.error === undefined ? {} : { error: result.error }),
    });
    if (orderId === undefined) return;
    const draw = this.random();
    if (draw < this.options.cancelShare) {
      await this.followUp(request, 'cancel_order', `/api/v1/orders/${orderId}/cancel`, request.headers);
    } else if (draw < this.options.cancelShare + this.options.payShare) {
      const admin = { Authorization: `Bearer ${this.options.adminToken}`, Accept: 'application/json' };
      await this.followUp(request, 'pay_order', `/api/v1/admin/orders/${orderId}/pay`, admin);
    }
  }

  private async followUp(order: PlannedRequest, type: string, path: string, headers: Record<string, string>) {
    const auth = { Authorization: headers.Authorization ?? '', Accept: 'application/json' };
    const request: PlannedRequest = { type, method: 'POST', path, headers: auth, body: null, values: order.values };
    let result = await this.attempt(request, false);
    if (result.status === 502) {
      result.sample.repeated = true;
      result = await this.attempt(request, true);
    }
  }
}
