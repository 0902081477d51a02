/** What the benchmark ran on: core count, CPU, memory, load, and the version of every moving part. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { promisify } from 'node:util';
import { vegetaVersion } from '../../load-tests/native/vegeta.ts';
import { wrkVersion } from '../../load-tests/native/wrk.ts';

const run = promisify(execFile);

async function firstLine(command: string, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(command, args, { timeout: 10_000 });
    return (stdout || stderr).split('\n')[0]?.trim() ?? '';
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string };
    return (failure.stdout || failure.stderr || 'unknown').split('\n')[0]?.trim() ?? 'unknown';
  }
}

export interface Machine {
  cores: number;
  cpu: string;
  memory_gib: number;
  kernel: string;
  load_average_at_start: number[];
}

export function machine(): Machine {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    load_average_at_start: loadavg().map((value) => Math.round(value * 100) / 100),
  };
}

export async function versions(serverVersion: string): Promise<Record<string, string>> {
  const [nginx, redis, pgbench, psql, wrk] = await Promise.all([
    firstLine('nginx', ['-v']),
    firstLine('redis-server', ['--version']),
    firstLine('pgbench', ['--version']),
    firstLine('psql', ['--version']),
    wrkVersion(),
  ]);
  return {
    node: process.version,
    postgres: serverVersion.replace(/ on .*$/, ''),
    nginx: nginx.replace(/^nginx version: /, ''),
    redis: redis.replace(/^Redis server v=(\S+).*$/, 'Redis $1'),
    vegeta: vegetaVersion(),
    wrk,
    pgbench,
    psql,
  };
}
