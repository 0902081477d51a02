/**
 * What the global set-ups of the Docker-based test projects (containers: `make up`; swarm: `make stack-deploy`)
 * share: whether an engine answers, which images to run (upstream ones, or stand-ins built from Debian packages
 * where no registry answers; scripts/standins/README.md), a copy of the repository that looks like a fresh clone,
 * a free loopback port, and running a command synchronously with its output kept.
 */
import { freePort } from '../../tools/stack/native/plan.ts';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { repoRoot } from './stack.js';

const UPSTREAM_IMAGES = [
  'nginx:1.30-alpine',
  'postgres:17-alpine',
  'redis:7.4-alpine',
  'node:24-bookworm-slim',
  'edoburu/pgbouncer:v1.24.1-p1',
];

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {},
): RunResult {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    input: options.input,
    env: options.env ?? process.env,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

export const tail = (text: string, lines = 40): string => text.split('\n').slice(-lines).join('\n');

/** Why no Docker engine can run the tests here (scripts/setup-docker.sh status), or undefined when one answers. */
export function engineUnavailable(): string | undefined {
  const engine = run('bash', [join(repoRoot, 'scripts/setup-docker.sh'), 'status']);
  return engine.status === 0 ? undefined : engine.stdout.trim() || engine.stderr.trim();
}

/**
 * Image variables for compose and the stack file: none (upstream tags) when those can be had, else the stand-ins'
 * tags. CONTAINER_IMAGES=upstream|standins forces one; `log` names the project in the message.
 */
export function chooseImages(log: string): Record<string, string> {
  const wanted = process.env.CONTAINER_IMAGES ?? 'auto';
  if (wanted === 'upstream') return {};
  if (wanted === 'auto') {
    const missing = UPSTREAM_IMAGES.filter((image) => run('docker', ['image', 'inspect', image]).status !== 0);
    const pulled = missing.every(
      (image) => run('docker', ['pull', '--quiet', image], { timeoutMs: 300_000 }).status === 0,
    );
    if (pulled) return {};
    console.log(`[${log}] no registry answers: building stand-ins of the upstream images (scripts/standins)`);
  }
  const built = run('bash', [join(repoRoot, 'scripts/standins/build.sh'), '--env'], { timeoutMs: 1_200_000 });
  if (built.status !== 0) throw new Error(`scripts/standins/build.sh failed:\n${tail(built.stdout + built.stderr)}`);
  return Object.fromEntries(
    built.stdout
      .split('\n')
      .map((line) => /^([A-Z0-9_]+_IMAGE)=(\S+)$/.exec(line.trim()))
      .filter((match) => match !== null)
      .map((match) => [match[1] as string, match[2] as string]),
  );
}

/** The tracked (and new, not ignored) files of the working tree in a temp folder: what a fresh clone has. */
export function freshCopy(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const files = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: repoRoot })
    .stdout.split('\0')
    .filter(Boolean);
  for (const file of files) {
    const source = join(repoRoot, file);
    let mode: number;
    try {
      mode = statSync(source).mode;
    } catch {
      continue; // deleted in the working tree, not yet in the index
    }
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    copyFileSync(source, join(dir, file));
    chmodSync(join(dir, file), mode);
  }
  return dir;
}

/**
 * Each run's build carries its compose project name (nstest<pid>) as a label, so the previous runs' api/worker images
 * lost their tag: remove those of test projects (their layers stay cached for the next build), nothing else.
 */
export function removeOldTestImages(): void {
  const dangling = run('docker', ['images', '--quiet', '--filter', 'dangling=true']).stdout.split('\n').filter(Boolean);
  if (dangling.length === 0) return;
  const labelled = run('docker', [
    'image',
    'inspect',
    '--format',
    '{{.Id}} {{index .Config.Labels "com.docker.compose.project"}}',
    ...dangling,
  ]).stdout.split('\n');
  const ours = labelled.filter((line) => / nstest\d+/.test(line)).map((line) => line.split(' ')[0] as string);
  if (ours.length > 0) run('docker', ['rmi', ...ours]);
}

export { freePort };
