import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');

/**
 * Runs `scripts/native.sh <args>` and returns its output. The output goes through a file, not a
 * pipe: the daemons the script starts inherit its stdio, and a pipe held open by Postgres would
 * keep a pipe reader waiting forever. We wait for the script's own exit instead.
 */
export async function runNative(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'native-'));
  const logPath = join(dir, 'output.log');
  const log = openSync(logPath, 'w');
  try {
    const child = spawn('bash', [join(repoRoot, 'scripts/native.sh'), ...args], {
      env,
      cwd: repoRoot,
      stdio: ['ignore', log, log],
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', resolve);
    });
    const output = readFileSync(logPath, 'utf8');
    if (code !== 0) throw new Error(`scripts/native.sh ${args.join(' ')} exited ${code}:\n${output}`);
    return output;
  } finally {
    closeSync(log);
    rmSync(dir, { recursive: true, force: true });
  }
}
