/**
 * The api process: parses its config (or exits naming the bad setting), opens everything through
 * createApiRuntime, and on SIGTERM or SIGINT closes it once within SHUTDOWN_TIMEOUT_MS (shorter than
 * compose's stop_grace_period), exiting 1 if a step failed or the deadline passed.
 */
import { setFlagsFromString } from 'node:v8';
import { loadApiConfig, loadConfigOrExit, onShutdownSignals } from '@stack/core';
import { createApiRuntime } from './runtime.js';

// Lets the streaming import loops free short-lived Buffers young (core/src/imports/buffer-garbage.ts:
// +15 MiB instead of +29 to +56 MiB of RSS for a 50 MB upload, worker/README.md "Memory").
setFlagsFromString('--expose-gc');

const config = loadConfigOrExit(loadApiConfig, 'api');
const runtime = await createApiRuntime(config);
onShutdownSignals({ logger: runtime.logger, deadlineMs: config.SHUTDOWN_TIMEOUT_MS, close: runtime.close });
