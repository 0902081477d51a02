/**
 * Commands the container tests run the way a user does: `make <target>` and `docker compose ...` in the test
 * project's folder (a fresh copy of the repository), with the variables the project was started with (`env`
 * overrides them, e.g. another project name).
 */
import { inject } from 'vitest';
import { runCommand } from '../../support/stack.js';

/** Runs a command in the test project's folder; resolves with stdout + stderr, rejects on a non-zero exit. */
export const runIn = (command: string, args: string[], env: Record<string, string> = {}): Promise<string> =>
  runCommand(command, args, { cwd: inject('stackEnv').COMPOSE_DIR, env });

export const make = (args: string[], env: Record<string, string> = {}): Promise<string> =>
  runIn('make', ['--no-print-directory', ...args], env);

export const compose = (args: string[], env: Record<string, string> = {}): Promise<string> =>
  runIn('docker', ['compose', ...args], env);
