/**
 * The swarm project's stack: `make stack-deploy` of docker-stack.yml on a single-node swarm, in a copy of the
 * repository that looks like a fresh clone, under a stack name of its own (nsswarm<pid>) and a free host port, so a
 * user's stack is never touched. The engine's swarm mode is turned on when it is off (`docker swarm init
 * --advertise-addr 127.0.0.1`) and off again at the end only then; the node labels the stack places Postgres, the
 * queue Redis and nginx by are added where missing and removed again. Images: the same choice as the containers
 * project (test/support/docker-setup.ts), the app images built with compose under tag `test`, plus two images made
 * from it for the update tests (`swarm-next`: a new image; `swarm-broken`: one whose health check never passes).
 * No engine: every swarm test is skipped, with the reason. TEST_STACK_KEEP=1 leaves the stack running.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { SwarmStack } from '../../../tools/stack/swarm/swarm-stack.ts';
import * as dockerSetup from '../../support/docker-setup.js';

const NODE_LABELS = ['node-stack.postgres', 'node-stack.redis-queue', 'node-stack.edge'];
/** The app image every Docker test project builds (the build cache makes a rebuild a no-op). */
export const APP_TAG = 'test';
export const NEXT_TAG = 'swarm-next';
export const BROKEN_TAG = 'swarm-broken';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const noEngine = dockerSetup.engineUnavailable();
  if (noEngine !== undefined) {
    const reason = `skipped: no engine: ${noEngine}`;
    console.warn(`\n[swarm] ${reason}\n`);
    project.provide('swarmEnv', { SKIP_REASON: reason });
    return async () => undefined;
  }
  const started = performance.now();
  const initialised = joinSwarm();
  const nodeId = docker(['info', '--format', '{{.Swarm.NodeID}}']).trim();
  const addedLabels = addNodeLabels(nodeId);

  const images = dockerSetup.chooseImages('swarm');
  const dir = dockerSetup.freshCopy('nsswarm-');
  buildAppImages(dir, images);
  writeSecrets(dir);
  // 32 characters: nginx.conf's map_hash_bucket_size (64) does not fit a key much longer ("could not build map_hash").
  const loadtestKey = randomBytes(16).toString('hex');
  writeFileSync(join(dir, 'secrets', 'nginx_loadtest_key.conf'), `"${loadtestKey}" 1;\n`);

  const port = await dockerSetup.freePort();
  const stack = new SwarmStack({
    name: `nsswarm${process.pid}`,
    dir,
    variables: {
      ...images,
      IMAGE_TAG: APP_TAG,
      NGINX_PORT: String(port),
      API_REPLICAS: '2',
      WORKER_REPLICAS: '1',
      // Local images only: no registry to resolve their digests from.
      RESOLVE_IMAGE: 'never',
      // The order stream is one customer placing thousands of unpaid orders: lift the per-token write rate and
      // the units a customer may hold (issue 11's limits), which would otherwise answer it 429/409 by design.
      API_WRITE_RATE_PER_SECOND: '1000000',
      API_WRITE_BURST: '1000000',
      CUSTOMER_MAX_HELD_UNITS: '100000000',
    },
    nginxUrl: `http://127.0.0.1:${port}`,
    postgres: { user: 'app', database: 'app' },
  });
  const teardown = async () => {
    if (process.env.TEST_STACK_KEEP === '1') return;
    await stack.remove();
    if (addedLabels.length > 0) docker(['node', 'update', ...addedLabels.flatMap((l) => ['--label-rm', l]), nodeId]);
    if (initialised) docker(['swarm', 'leave', '--force']);
    dockerSetup.run('docker', ['rmi', '--force', `node-stack/api:${NEXT_TAG}`, `node-stack/api:${BROKEN_TAG}`]);
    rmSync(dir, { recursive: true, force: true });
  };

  const deployStarted = performance.now();
  try {
    writeFileSync(join(dir, 'stack-deploy.log'), await stack.deploy());
  } catch (error) {
    const services = dockerSetup.run('docker', ['stack', 'ps', '--no-trunc', stack.deployment.name]).stdout;
    await teardown();
    throw new Error(`make stack-deploy failed: ${(error as Error).message}\n${dockerSetup.tail(services)}`);
  }
  const deploySeconds = (performance.now() - deployStarted) / 1000;
  console.log(
    `[swarm] make stack-deploy converged after ${deploySeconds.toFixed(0)} s ` +
      `(set-up ${((performance.now() - started) / 1000).toFixed(0)} s; stack ${stack.deployment.name}, ${dir})`,
  );
  project.provide('swarmEnv', {
    DEPLOYMENT: JSON.stringify(stack.deployment),
    LOADTEST_KEY: loadtestKey,
    DEPLOY_SECONDS: deploySeconds.toFixed(1),
    SWARM_INITIALISED: String(initialised),
  });
  return teardown;
}

/** Turns swarm mode on when it is off; true when this run did (and so must turn it off again). */
function joinSwarm(): boolean {
  const state = docker(['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}']).trim();
  if (state === 'active true') return false;
  if (state.startsWith('active')) throw new Error('this engine is a swarm worker; the swarm tests need a manager');
  // The loopback address: the swarm's control plane is not offered to any network.
  docker(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  console.log('[swarm] swarm mode turned on for this run (docker swarm init --advertise-addr 127.0.0.1)');
  return true;
}

/** Sets the placement labels docker-stack.yml needs on this node; returns the ones it added. */
function addNodeLabels(nodeId: string): string[] {
  const labels = JSON.parse(docker(['node', 'inspect', '--format', '{{json .Spec.Labels}}', nodeId])) as Record<
    string,
    string
  > | null;
  const missing = NODE_LABELS.filter((label) => labels?.[label] !== 'true');
  if (missing.length > 0) {
    docker(['node', 'update', ...missing.flatMap((label) => ['--label-add', `${label}=true`]), nodeId]);
  }
  return missing;
}

/**
 * The app images with compose, as the containers project builds them (same tag, same cache, a test project name so
 * that its clean-up removes the images this build untags), and (unless `updateImages` is false) the two update-test
 * images made from the api one. The swarm-nodes project builds its images here too.
 */
export function buildAppImages(dir: string, images: Record<string, string>, updateImages = true): void {
  const env = { ...process.env, ...images, IMAGE_TAG: APP_TAG, COMPOSE_PROJECT_NAME: `nstest${process.pid}` };
  const built = dockerSetup.run('docker', ['compose', 'build', 'api', 'worker'], { cwd: dir, env });
  if (built.status !== 0)
    throw new Error(`docker compose build failed:\n${dockerSetup.tail(built.stdout + built.stderr)}`);
  dockerSetup.removeOldTestImages();
  if (!updateImages) return;
  const derived: [string, string][] = [
    [NEXT_TAG, 'LABEL org.node-stack.swarm-test=next'],
    // The process lives but never listens: the health check fails, the task is never added to DNS.
    [BROKEN_TAG, "USER root\nRUN echo 'setInterval(() => undefined, 60000);' > api/dist/main.js\nUSER node"],
  ];
  for (const [tag, lines] of derived) {
    const dockerfile = `FROM node-stack/api:${APP_TAG}\n${lines}\n`;
    const result = dockerSetup.run('docker', ['build', '--quiet', '--tag', `node-stack/api:${tag}`, '-'], {
      input: dockerfile,
    });
    if (result.status !== 0)
      throw new Error(`building node-stack/api:${tag} failed:\n${dockerSetup.tail(result.stderr)}`);
  }
}

/** The secret files, made by the commands of the README's "Production profile". */
export function writeSecrets(dir: string): void {
  mkdirSync(join(dir, 'secrets'), { recursive: true });
  const password = randomBytes(24).toString('hex');
  writeFileSync(join(dir, 'secrets', 'postgres_password'), password);
  // The roles of db/roles.sql: api and worker as app_rw through PgBouncer (the LISTEN direct), migrate as the owner.
  const ownerPassword = randomBytes(24).toString('hex');
  const appPassword = randomBytes(24).toString('hex');
  writeFileSync(join(dir, 'secrets', 'db_owner_password'), ownerPassword);
  writeFileSync(join(dir, 'secrets', 'db_app_password'), appPassword);
  writeFileSync(join(dir, 'secrets', 'database_url'), `postgres://app_rw:${appPassword}@pgbouncer:6432/app`);
  writeFileSync(join(dir, 'secrets', 'database_direct_url'), `postgres://app_rw:${appPassword}@postgres:5432/app`);
  writeFileSync(join(dir, 'secrets', 'database_owner_url'), `postgres://app_owner:${ownerPassword}@postgres:5432/app`);
  writeFileSync(join(dir, 'secrets', 'api_token_pepper'), randomBytes(32).toString('hex'));
  writeFileSync(join(dir, 'secrets', 'webhook_secret_key'), randomBytes(32).toString('hex'));
  for (const redis of ['redis_cache', 'redis_queue']) {
    const redisPassword = randomBytes(24).toString('hex');
    const host = redis === 'redis_cache' ? 'redis' : 'redis-queue';
    writeFileSync(join(dir, 'secrets', `${redis}_password`), redisPassword);
    writeFileSync(join(dir, 'secrets', `${redis}_url`), `redis://:${redisPassword}@${host}:6379`);
  }
}

function docker(args: string[]): string {
  const result = dockerSetup.run('docker', args);
  if (result.status !== 0) throw new Error(`docker ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

declare module 'vitest' {
  export interface ProvidedContext {
    swarmEnv: Record<string, string>;
  }
}
