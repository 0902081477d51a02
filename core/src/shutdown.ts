import type { Logger } from './logger.js';

export interface ShutdownStep {
  name: string;
  run: () => Promise<unknown> | unknown;
}

/**
 * One idempotent shutdown path for SIGTERM and SIGINT. Steps run in order, each in its own try so
 * one failure does not skip the others; a hard deadline ends the process if a step hangs, shorter
 * than the orchestrator's stop_grace_period so we exit on our own terms.
 */
export function onShutdownSignals(options: {
  logger: Logger;
  deadlineMs: number;
  steps: () => ShutdownStep[];
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
      let failed = false;
      for (const step of options.steps()) {
        try {
          await step.run();
          options.logger.info({ step: step.name }, 'shutdown step done');
        } catch (error) {
          failed = true;
          options.logger.error({ err: error, step: step.name }, 'shutdown step failed');
        }
      }
      clearTimeout(deadline);
      options.logger.info('shutdown complete');
      exit(failed ? 1 : 0);
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
