/**
 * The worker process: another entry point over the same @stack/core code as the api. It parses its
 * config (or exits naming the bad setting), opens everything through createWorkerRuntime (one BullMQ
 * Worker per queue, the outbox relay, /healthz and /metrics), and on SIGTERM or SIGINT closes it
 * once within SHUTDOWN_TIMEOUT_MS, exiting 1 if a step failed or the deadline passed.
 */
import { setFlagsFromString } from 'node:v8';
import { loadConfigOrExit, loadWorkerConfig, onShutdownSignals } from '@stack/core';
import { createWorkerRuntime } from './runtime.js';

// Lets the streaming import loops free short-lived Buffers young (core/src/imports/buffer-garbage.ts:
// +15 MiB instead of +29 to +56 MiB of RSS for a 50 MB upload, worker/README.md "Memory").
setFlagsFromString('--expose-gc');

const config = loadConfigOrExit(loadWorkerConfig, 'worker');
const runtime = await createWorkerRuntime(config);
onShutdownSignals({ logger: runtime.logger, deadlineMs: config.SHUTDOWN_TIMEOUT_MS, close: runtime.close });
