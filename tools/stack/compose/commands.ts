/** Running the docker CLI (and make, for the commands users type) with a compose project's variables. */
import { spawn } from 'node:child_process';

export interface CommandOptions {
  cwd?: string;
  /** Added to this process's environment (after the project's variables). */
  env?: Record<string, string>;
  /** false: stdout only. */
  stderr?: boolean;
}

/** Runs a command and returns its stdout (and stderr unless `stderr: false`); rejects with its output on a non-zero exit. */
export function runCommand(command: string, args: string[], options: CommandOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(options.stderr === false ? stdout : stdout + stderr);
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${(stdout + stderr).slice(-4000)}`));
    });
  });
}
