import type { Logger } from './logger.js';

/**
 * The process side of shutdown, for entry points: SIGTERM and SIGINT run `close` once (a second signal waits for
 * the same close) and exit 0 when it succeeded, 1 when a step failed. A hard deadline ends the process if a step
 * hangs, shorter than the orchestrator's stop_grace_period so we exit on our own terms.
 */
export function onShutdownSignals(options: {
  logger: Logger;
  deadlineMs: number;
  close: () => Promise<boolean>;
  exit?: (code: number) => void;
}): () => Promise<void> {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let running: Promise<void> | undefined;

  const shutdown = (): Promise<void> => {
    running ??= (async () => {
      const deadline = setTimeout(() => {
        options.logger.error(
          { deadlineMs: options.deadlineMs },
          'shutdown deadline passed; exiting with work in flight',
        );
        exit(1);
      }, options.deadlineMs);
      deadline.unref();
      const closed = await options.close();
      clearTimeout(deadline);
      options.logger.info('shutdown complete');
      exit(closed ? 0 : 1);
    })();
    return running;
  };

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      options.logger.info({ signal }, 'shutdown requested');
      void shutdown();
    });
  }
  return shutdown;
}
