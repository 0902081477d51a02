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
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import * as dockerSetup from '../../support/docker-setup.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const noEngine = dockerSetup.engineUnavailable();
  if (noEngine !== undefined) {
    const reason = `skipped: no engine: ${noEngine}`;
    console.warn(`\n[containers] ${reason}\n`);
    project.provide('stackEnv', { MODE: 'compose', SKIP_REASON: reason });
    return async () => undefined;
  }

  const started = performance.now();
  const images = dockerSetup.chooseImages('containers');
  const dir = dockerSetup.freshCopy('nstest-');
  const projectName = `nstest${process.pid}`;
  const port = await dockerSetup.freePort();
  const composeEnv: Record<string, string> = {
    ...images,
    COMPOSE_PROJECT_NAME: projectName,
    NGINX_HOST_PORT: String(port),
    // One tag for every test run on this machine: the build cache makes the next run's build a no-op.
    IMAGE_TAG: 'test',
    // The scale tests' order stream is one customer placing thousands of unpaid orders: lift the per-token write
    // rate and the units a customer may hold, which would answer it 429/422 by design (api/README.md, orders).
    API_WRITE_RATE_PER_SECOND: '1000000',
    API_WRITE_BURST: '1000000',
    CUSTOMER_MAX_HELD_UNITS: '100000000',
  };
  const env = { ...process.env, ...composeEnv };
  const teardown = async () => {
    if (process.env.TEST_STACK_KEEP === '1') return;
    removeProjects(projectName);
    rmSync(dir, { recursive: true, force: true });
  };

  const up = dockerSetup.run('make', ['up'], { cwd: dir, env });
  const upSeconds = (performance.now() - started) / 1000;
  writeFileSync(join(dir, 'make-up.log'), up.stdout + up.stderr);
  if (up.status !== 0) {
    const logs = dockerSetup.run('docker', ['compose', 'logs', '--no-color', '--tail', '30'], { cwd: dir, env });
    await teardown();
    throw new Error(
      `make up failed (exit ${up.status}):\n${dockerSetup.tail(up.stdout + up.stderr)}\n${dockerSetup.tail(logs.stdout)}`,
    );
  }
  console.log(`[containers] make up healthy after ${upSeconds.toFixed(0)} s (project ${projectName}, ${dir})`);

  // The development defaults the stack runs with, read from the compose file itself (no copy of them here).
  const config = JSON.parse(
    dockerSetup.run('docker', ['compose', '--profile', 'tools', 'config', '--format', 'json'], { cwd: dir, env })
      .stdout,
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
    REDIS_CACHE_PASSWORD: serviceEnv('redis').REDIS_PASSWORD ?? '',
    REDIS_QUEUE_PASSWORD: serviceEnv('redis-queue').REDIS_PASSWORD ?? '',
    LOADTEST_KEY: serviceEnv('nginx').LOADTEST_KEY ?? '',
    DEV_ADMIN_TOKEN: serviceEnv('seed').DEV_ADMIN_TOKEN ?? '',
    DEV_CUSTOMER_TOKEN: serviceEnv('seed').DEV_CUSTOMER_TOKEN ?? '',
  });
  return teardown;
}

/** Removes every container, network and volume of the projects this run created (`<name>` and `<name>*`). */
function removeProjects(prefix: string): void {
  const projects = new Set(
    dockerSetup
      .run('docker', ['ps', '-a', '--format', '{{.Label "com.docker.compose.project"}}'])
      .stdout.split('\n')
      .filter((name) => name.startsWith(prefix)),
  );
  projects.add(prefix);
  for (const name of projects) {
    dockerSetup.run('docker', ['compose', '-p', name, 'down', '--volumes', '--remove-orphans', '--timeout', '5']);
  }
  const volumes = dockerSetup
    .run('docker', ['volume', 'ls', '-q'])
    .stdout.split('\n')
    .filter((name) => name.startsWith(prefix));
  if (volumes.length > 0) dockerSetup.run('docker', ['volume', 'rm', '-f', ...volumes]);
  dockerSetup.removeOldTestImages();
}
