/**
 * Commands the container tests run the way a user does: `make <target>` and `docker compose ...` in the test
 * project's folder (a fresh copy of the repository), with the variables the project was started with.
 */
import { spawn } from 'node:child_process';
import { inject } from 'vitest';

/** Runs `make <args>` in the test project's folder; resolves with stdout + stderr, rejects on a non-zero exit. */
export function make(args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  return runIn('make', ['--no-print-directory', ...args], extraEnv);
}

/** Runs `docker compose <args>` in the test project's folder. */
export function compose(args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  return runIn('docker', ['compose', ...args], extraEnv);
}

export function runIn(command: string, args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  const env = inject('stackEnv');
  const composeEnv = JSON.parse(env.COMPOSE_ENV ?? '{}') as Record<string, string>;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: env.COMPOSE_DIR,
      env: { ...process.env, ...composeEnv, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output.slice(-4000)}`));
    });
  });
}
