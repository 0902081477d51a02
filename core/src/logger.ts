import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs on stdout (the container runtime collects them). `instance` tells replicas apart;
 * the api adds the request id that nginx sends to each request's child logger.
 */
export function createLogger(options: { level: string; instance: string; component: string }): Logger {
  return pino({
    level: options.level,
    base: { instance: options.instance, component: options.component },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
