/** The one-shot programs of a native `up`: the build, the migrations and the seed, each with its output in a log. */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { StackEnv } from './env.ts';
import { log, NativeStackError } from './log.ts';
import { tailOf } from './processes.ts';
import { nodeEnvironment } from './services.ts';

/** Runs a program to completion; its stdout and stderr go to `logPath`, and a failure reports the log's tail. */
function runToLog(logPath: string, command: string, args: string[], env: NodeJS.ProcessEnv, seconds: number) {
  const name = basename(logPath, '.log');
  return new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: seconds * 1000 });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      writeFileSync(logPath, Buffer.concat(chunks));
      if (code === 0) resolve();
      else reject(new NativeStackError(`${name} failed (exit ${code}; log: ${logPath})\n${tailOf(logPath, 40)}`));
    });
  });
}

/** `npm run build`, serialised across stacks of this checkout: two `tsc -b` writing one dist/ could tear a file. */
export function buildInBackground(repo: string, logPath: string): Promise<void> {
  log(`npm run build (in the background, log: ${logPath})`);
  mkdirSync(join(repo, '.tools'), { recursive: true });
  const lockFile = join(repo, '.tools', 'build.lock');
  const build = ['-c', `cd "$0" && exec flock "$1" npm run build`, repo, lockFile];
  return runToLog(logPath, 'sh', build, process.env, 600);
}

/** A Node program of the stack (migrate, seed) with the stack's settings and `extra` on top; 15 minutes at most. */
export function runNodeProgram(env: StackEnv, logPath: string, main: string, extra: Record<string, string>) {
  const base = nodeEnvironment(env);
  const name = basename(logPath, '.log');
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...base.env, ...extra, INSTANCE_NAME: name };
  for (const key of base.unset) delete childEnv[key];
  return runToLog(logPath, process.execPath, [main], childEnv, 900);
}
