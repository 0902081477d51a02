/**
 * Shared bits of the static checks (nginx config, compose files): locating tools and running them.
 * Nothing here starts a service; every check works on files and `-t`/`config` style dry runs.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, for assertion messages. */
  output: string;
}

export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): RunResult {
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? repoRoot,
    env: options.env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 32 * 1024 * 1024,
  });
  const stdout = result.stdout ?? '';
  const stderr = result.error ? String(result.error) : (result.stderr ?? '');
  return {
    status: result.status,
    stdout,
    stderr,
    output: `${stdout}\n${stderr}`,
  };
}

/**
 * Like run(), but stdout and stderr go to a file first. For nginx: it opens /dev/stdout itself (access_log),
 * which fails with ENXIO when stdout is the socket Node uses for child pipes, and works on a file or a pipe.
 */
export function runWithFileOutput(command: string, args: readonly string[]): RunResult {
  const dir = makeTempDir('static-run-');
  const path = join(dir, 'output.log');
  const fd = openSync(path, 'w');
  try {
    const result = spawnSync(command, args, {
      cwd: repoRoot,
      stdio: ['ignore', fd, fd],
    });
    const output = readFileSync(path, 'utf8') + (result.error ? String(result.error) : '');
    return { status: result.status, stdout: output, stderr: '', output };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The first of the given commands that exists on PATH (or as a path), or undefined. */
export function findExecutable(...candidates: readonly string[]): string | undefined {
  for (const candidate of candidates) {
    if (candidate.includes('/')) {
      if (existsSync(candidate)) return candidate;
      continue;
    }
    if (run('sh', ['-c', `command -v "${candidate}"`]).status === 0) return candidate;
  }
  return undefined;
}

/**
 * How to run `docker compose`: COMPOSE_BIN, the plugin built by scripts/setup-compose.sh, a `docker-compose`
 * on PATH, or the docker CLI's own plugin. `reason` says why none is usable.
 */
export function findCompose(): { command: string; prefix: string[] } | { reason: string } {
  const explicit = process.env.COMPOSE_BIN;
  if (explicit) return { command: explicit, prefix: [] };
  const built = join(repoRoot, '.tools', 'bin', 'docker-compose');
  if (existsSync(built)) return { command: built, prefix: [] };
  const standalone = findExecutable('docker-compose');
  if (standalone) return { command: standalone, prefix: [] };
  const docker = findExecutable('docker');
  if (docker && run(docker, ['compose', 'version']).status === 0) return { command: docker, prefix: ['compose'] };
  return {
    reason: 'no docker compose CLI (run scripts/setup-compose.sh to build it into .tools/bin, or set COMPOSE_BIN)',
  };
}
