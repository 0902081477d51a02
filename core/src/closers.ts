/**
 * What a process opens, it registers for closing at the moment it opens it, so the open and close lists cannot
 * drift apart: closers run once, in the reverse order of opening (a server stops before the pool its requests
 * use), each in its own try so one failure does not skip the others.
 */
import { once } from 'node:events';
import type { Server } from 'node:net';
import type { Logger } from './logger.js';

type Closer = () => Promise<unknown> | unknown;

export class Closers {
  private readonly stack: { name: string; close: Closer }[] = [];
  private closing: Promise<boolean> | undefined;

  constructor(private readonly logger: Logger) {}

  /** Registers the closer of `resource`, just opened, and returns the resource. */
  open<T>(name: string, resource: T, close: (resource: T) => Promise<unknown> | unknown): T {
    this.onClose(name, () => close(resource));
    return resource;
  }

  /** Registers a step to run on close, after the ones registered later and before the ones registered earlier. */
  onClose(name: string, close: Closer): void {
    if (this.closing) throw new Error(`cannot register "${name}": closing has begun`);
    this.stack.push({ name, close });
  }

  /**
   * Runs every closer, last registered first. Resolves true when all succeeded; a failure is logged and the
   * next closer still runs. Idempotent: every call returns the same promise.
   */
  close(): Promise<boolean> {
    this.closing ??= (async () => {
      let succeeded = true;
      for (const { name, close } of this.stack.toReversed()) {
        try {
          await close();
          this.logger.info({ step: name }, 'closed');
        } catch (error) {
          succeeded = false;
          this.logger.error({ err: error, step: name }, 'close failed');
        }
      }
      return succeeded;
    })();
    return this.closing;
  }
}

/**
 * Runs `open`, which opens resources and registers their closers; returns what it built with the one `close`.
 * When opening fails half way, what was already opened is closed before the error propagates.
 */
export async function openResources<T extends object>(
  logger: Logger,
  open: (closers: Closers) => Promise<T>,
): Promise<T & { close: () => Promise<boolean> }> {
  const closers = new Closers(logger);
  try {
    const opened = await open(closers);
    return { ...opened, close: () => closers.close() };
  } catch (error) {
    await closers.close();
    throw error;
  }
}

/** Listens and resolves once listening; rejects on a listen error (a port in use). */
export async function listen(server: Server, port: number, host: string): Promise<void> {
  server.listen(port, host);
  await once(server, 'listening');
}

/** Stops accepting and resolves when every connection has closed (idle keep-alive ones are closed at once). */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
