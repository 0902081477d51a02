/**
 * The api process: parses its config (or exits naming the bad setting), opens everything through
 * createApiRuntime, and on SIGTERM or SIGINT closes it once within SHUTDOWN_TIMEOUT_MS (shorter than
 * compose's stop_grace_period), exiting 1 if a step failed or the deadline passed.
 */
import { loadApiConfig, loadConfigOrExit, onShutdownSignals } from '@stack/core';
import { createApiRuntime } from './runtime.js';

const config = loadConfigOrExit(loadApiConfig, 'api');
const runtime = await createApiRuntime(config);
onShutdownSignals({ logger: runtime.logger, deadlineMs: config.SHUTDOWN_TIMEOUT_MS, close: runtime.close });
