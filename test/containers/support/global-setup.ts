/**
 * The containers project's stack: `make up` on a real Docker engine, in a copy of the repository that looks like a
 * fresh clone (tracked files only: no .env, no node_modules, no build output), under a compose project name of its
 * own and a free host port, so a developer's `make up` stack is never touched. Stopped with `docker compose down -v`
 * afterwards; TEST_STACK_KEEP=1 leaves it running.
 *
 * Images: where the upstream images can be pulled (or CONTAINER_IMAGES=upstream), they are used as they are;
 * otherwise scripts/standins/build.sh builds stand-ins from Debian packages (cached per recipe) and the compose
 * image variables select them (scripts/standins/README.md says how they differ). No engine at all: every
 * container test is skipped, with the reason printed here and in each skipped test's name.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { repoRoot } from '../../support/stack.js';

const UPSTREAM_IMAGES = ['nginx:1.30-alpine', 'postgres:17-alpine', 'redis:7.4-alpine', 'node:24-bookworm-slim'];

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const engine = run('bash', [join(repoRoot, 'scripts/setup-docker.sh'), 'status']);
  if (engine.status !== 0) {
    const reason = `skipped: no engine: ${engine.stdout.trim() || engine.stderr.trim()}`;
    console.warn(`\n[containers] ${reason}\n`);
    project.provide('stackEnv', { MODE: 'compose', SKIP_REASON: reason });
    return async () => undefined;
  }

  const started = performance.now();
  const images = chooseImages();
  const dir = freshCopy();
  const projectName = `nstest${process.pid}`;
  const port = await freePort();
  const composeEnv: Record<string, string> = {
    ...images,
    COMPOSE_PROJECT_NAME: projectName,
    NGINX_HOST_PORT: String(port),
    // One tag for every test run on this machine: the build cache makes the next run's build a no-op.
    IMAGE_TAG: 'test',
  };
  const env = { ...process.env, ...composeEnv };
  const teardown = async () => {
    if (process.env.TEST_STACK_KEEP === '1') return;
    removeProjects(projectName);
    rmSync(dir, { recursive: true, force: true });
  };

  const up = run('make', ['up'], { cwd: dir, env });
  const upSeconds = (performance.now() - started) / 1000;
  writeFileSync(join(dir, 'make-up.log'), up.stdout + up.stderr);
  if (up.status !== 0) {
    const logs = run('docker', ['compose', 'logs', '--no-color', '--tail', '30'], { cwd: dir, env });
    await teardown();
    throw new Error(`make up failed (exit ${up.status}):\n${tail(up.stdout + up.stderr)}\n${tail(logs.stdout)}`);
  }
  console.log(`[containers] make up healthy after ${upSeconds.toFixed(0)} s (project ${projectName}, ${dir})`);

  // The development defaults the stack runs with, read from the compose file itself (no copy of them here).
  const config = JSON.parse(
    run('docker', ['compose', '--profile', 'tools', 'config', '--format', 'json'], { cwd: dir, env }).stdout,
  ) as { services: Record<string, { environment?: Record<string, string> }> };
  const serviceEnv = (service: string) => config.services[service]?.environment ?? {};
  project.provide('stackEnv', {
    MODE: 'compose',
    COMPOSE_PROJECT_NAME: projectName,
    COMPOSE_DIR: dir,
    COMPOSE_ENV: JSON.stringify(composeEnv),
    IMAGES: images.NGINX_IMAGE ? 'stand-ins' : 'upstream',
    NGINX_URL: `http://127.0.0.1:${port}`,
    MAKE_UP_LOG: join(dir, 'make-up.log'),
    MAKE_UP_SECONDS: upSeconds.toFixed(1),
    POSTGRES_USER: serviceEnv('postgres').POSTGRES_USER ?? '',
    POSTGRES_PASSWORD: serviceEnv('postgres').POSTGRES_PASSWORD ?? '',
    POSTGRES_DB: serviceEnv('postgres').POSTGRES_DB ?? '',
    API_TOKEN_PEPPER: serviceEnv('api').API_TOKEN_PEPPER ?? '',
    LOADTEST_KEY: serviceEnv('nginx').LOADTEST_KEY ?? '',
    DEV_ADMIN_TOKEN: serviceEnv('seed').DEV_ADMIN_TOKEN ?? '',
    DEV_CUSTOMER_TOKEN: serviceEnv('seed').DEV_CUSTOMER_TOKEN ?? '',
  });
  return teardown;
}

/** Image variables for compose: none (upstream tags) when those can be had, else the stand-ins' tags. */
function chooseImages(): Record<string, string> {
  const wanted = process.env.CONTAINER_IMAGES ?? 'auto';
  if (wanted === 'upstream') return {};
  if (wanted === 'auto') {
    const missing = UPSTREAM_IMAGES.filter((image) => run('docker', ['image', 'inspect', image]).status !== 0);
    const pulled = missing.every(
      (image) => run('docker', ['pull', '--quiet', image], { timeoutMs: 300_000 }).status === 0,
    );
    if (pulled) return {};
    console.log('[containers] no registry answers: building stand-ins of the upstream images (scripts/standins)');
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
function freshCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nstest-'));
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

/** Removes every container, network and volume of the projects this run created (`<name>` and `<name>*`). */
function removeProjects(prefix: string): void {
  const projects = new Set(
    run('docker', ['ps', '-a', '--format', '{{.Label "com.docker.compose.project"}}'])
      .stdout.split('\n')
      .filter((name) => name.startsWith(prefix)),
  );
  projects.add(prefix);
  for (const name of projects) {
    run('docker', ['compose', '-p', name, 'down', '--volumes', '--remove-orphans', '--timeout', '5']);
  }
  const volumes = run('docker', ['volume', 'ls', '-q'])
    .stdout.split('\n')
    .filter((name) => name.startsWith(prefix));
  if (volumes.length > 0) run('docker', ['volume', 'rm', '-f', ...volumes]);
  removeOldTestImages();
}

/**
 * Each run's build carries its compose project name as a label, so the previous runs' api/worker images lost their
 * tag: remove those of test projects (their layers stay cached for the next build), nothing else.
 */
function removeOldTestImages(): void {
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

const tail = (text: string, lines = 40) => text.split('\n').slice(-lines).join('\n');
