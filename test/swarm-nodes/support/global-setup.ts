/**
 * The swarm-nodes project's stack: docker-stack.yml on a swarm of three Docker engines on this machine
 * (tools/stack/swarm/nodes.ts: one dockerd per network namespace, a bridge of their own, a local registry), deployed
 * with `make stack-deploy` against the manager's engine, the images pulled by every node from that registry.
 *
 * Images: the swarm project's (test/swarm/support/global-setup.ts builds the app images; upstream or stand-in images
 * for nginx, Postgres and Redis, test/support/docker-setup.ts), read from the host's engine with `docker save` and
 * copied into the registry (tools/stack/swarm/registry.ts); the host's engine gets no tag, setting or swarm state.
 * Node labels: n1 is the "db node" (Postgres, the queue Redis) and the only edge node (nginx, host port 8080 on
 * 10.213.0.11); api, worker and the cache Redis go wherever Swarm places them.
 *
 * Skipped with the reason when no engine answers, when this is not root or lacks ip/nsenter/unshare, or when the
 * registry cannot be built (scripts/setup-registry.sh). Every run stops the cluster at the end, whatever happened;
 * TEST_STACK_KEEP=1 leaves it running (`node tools/stack/swarm/nodes.ts down` stops it).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { globSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { docker, startCluster, stopCluster, type Cluster } from '../../../tools/stack/swarm/nodes.ts';
import { copyImages, repositoryAndTag } from '../../../tools/stack/swarm/registry.ts';
import { SwarmStack } from '../../../tools/stack/swarm/swarm-stack.ts';
import * as dockerSetup from '../../support/docker-setup.js';
import { repoRoot } from '../../support/stack.js';
import { APP_TAG, buildAppImages, writeSecrets } from '../../swarm/support/global-setup.js';

export const API_REPLICAS = 3;
/**
 * `docker stack deploy --detach=false` waits for convergence without a limit (a task that keeps failing keeps it
 * waiting): the set-up gives up after this, and stopping the engines ends the command.
 */
const DEPLOY_SECONDS = 300;
const NGINX_PORT = 8080;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const unavailable = whyUnavailable();
  if (unavailable !== undefined) {
    console.warn(`\n[swarm-nodes] skipped: ${unavailable}\n`);
    project.provide('nodesEnv', { SKIP_REASON: `skipped: ${unavailable}` });
    return async () => undefined;
  }
  const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(0);
  const started = performance.now();
  const images = dockerSetup.chooseImages('swarm-nodes');
  const dir = dockerSetup.freshCopy('nsnodes-');
  buildAppImages(dir, images, false);
  writeSecrets(dir);
  const loadtestKey = randomBytes(16).toString('hex');
  writeFileSync(join(dir, 'secrets', 'nginx_loadtest_key.conf'), `"${loadtestKey}" 1;\n`);
  const built = seconds(started);

  let cluster: Cluster | undefined;
  const teardown = async () => {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    if (process.env.TEST_STACK_KEEP === '1') return;
    await stopCluster();
    rmSync(dir, { recursive: true, force: true });
  };
  // vitest runs no teardown for a set-up it interrupts (Ctrl-C while the stack deploys): stop the cluster here.
  const interrupted = (signal: NodeJS.Signals) => {
    console.warn(`[swarm-nodes] ${signal} during set-up: stopping the cluster`);
    void teardown().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    const clusterStarted = performance.now();
    cluster = await startCluster();
    const [manager] = cluster.nodes;
    if (manager === undefined) throw new Error('no nodes');
    await docker(manager, ['node', 'update', ...labels(['postgres', 'redis-queue', 'edge']), manager.id]);
    const clusterSeconds = seconds(clusterStarted);

    const pushStarted = performance.now();
    const { variables, bytes } = await pushImages(cluster, images, dir);
    const pushSeconds = seconds(pushStarted);
    const stack = new SwarmStack({
      name: 'nsnodes',
      dir,
      variables: {
        ...variables,
        NGINX_PORT: String(NGINX_PORT),
        API_REPLICAS: String(API_REPLICAS),
        WORKER_REPLICAS: '1',
        // The read stream is one customer's: lift the per-token limits of issue 11 (as the swarm project does).
        API_WRITE_RATE_PER_SECOND: '1000000',
        API_WRITE_BURST: '1000000',
      },
      nginxUrl: `http://${manager.address}:${NGINX_PORT}`,
      postgres: { user: 'app', database: 'app' },
      dockerHost: manager.dockerHost,
      nodeHosts: Object.fromEntries(cluster.nodes.map((node) => [node.id, node.dockerHost])),
    });
    const deployStarted = performance.now();
    writeFileSync(
      join(dir, 'stack-deploy.log'),
      await withDeadline(stack.deploy(), DEPLOY_SECONDS, 'make stack-deploy'),
    );
    console.log(
      `[swarm-nodes] images built ${built} s, ${cluster.nodes.length} engines and a swarm ${clusterSeconds} s, ` +
        `${(bytes / 1e6).toFixed(0)} MB copied into the registry ${pushSeconds} s, make stack-deploy converged ` +
        `${seconds(deployStarted)} s (set-up ${seconds(started)} s; ${dir})`,
    );
    project.provide('nodesEnv', {
      DEPLOYMENT: JSON.stringify(stack.deployment),
      CLUSTER: JSON.stringify(cluster),
      LOADTEST_KEY: loadtestKey,
    });
  } catch (error) {
    const services =
      cluster?.nodes[0] === undefined
        ? ''
        : await docker(cluster.nodes[0], ['stack', 'ps', '--no-trunc', 'nsnodes']).catch(() => '');
    await teardown();
    throw new Error(`swarm-nodes set-up failed: ${(error as Error).message}\n${dockerSetup.tail(services)}`);
  }
  return teardown;
}

/** The promise's value, or an error after `seconds` (the promise's own later failure is then ignored). */
function withDeadline<T>(promise: Promise<T>, seconds: number, what: string): Promise<T> {
  promise.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not return within ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Why this machine cannot run the cluster, or undefined. Builds the registry when it is missing. */
function whyUnavailable(): string | undefined {
  const noEngine = dockerSetup.engineUnavailable();
  if (noEngine !== undefined) return `no engine: ${noEngine}`;
  if (process.getuid?.() !== 0) return 'network namespaces and engines of its own need root';
  for (const tool of ['ip', 'nsenter', 'unshare', 'dockerd']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} not found`;
  }
  const registry = dockerSetup.run('bash', [join(repoRoot, 'scripts/setup-registry.sh')], { timeoutMs: 900_000 });
  if (registry.status !== 0) return `no registry: ${dockerSetup.tail(registry.stderr, 5)}`;
  return undefined;
}

const labels = (names: string[]) => names.flatMap((name) => ['--label-add', `node-stack.${name}=true`]);

/**
 * The app images and every image the stack files (docker-stack.yml, and the docker-stack.yml of a folder that make
 * stack-deploy adds, e.g. pgbouncer/) name by a variable (`${NGINX_IMAGE:-nginx:1.30-alpine}`: the stand-in `images` chose, else
 * the default) into the cluster's registry under their own names; returns the stack variables that name them there.
 */
async function pushImages(cluster: Cluster, images: Record<string, string>, dir: string) {
  const stackFiles = globSync(['docker-stack.yml', '*/docker-stack.yml'], { cwd: dir })
    .map((file) => readFileSync(join(dir, file), 'utf8'))
    .join('\n');
  const named = Object.fromEntries(
    [...stackFiles.matchAll(/\$\{([A-Z0-9_]+_IMAGE):-([^}]+)\}/g)].map(([, key = '', image = '']) => [
      key,
      images[key] ?? image,
    ]),
  );
  const sources: Record<string, string> = {
    ...named,
    API_IMAGE: `node-stack/api:${APP_TAG}`,
    WORKER_IMAGE: `node-stack/worker:${APP_TAG}`,
  };
  const workDir = mkdtempSync(join(tmpdir(), 'nsnodes-images-'));
  try {
    const bytes = await copyImages(Object.values(sources), `http://${cluster.registry}`, workDir);
    const inRegistry = (image: string) => {
      const { repository, tag } = repositoryAndTag(image);
      return `${cluster.registry}/${repository}:${tag}`;
    };
    const variables: Record<string, string> = {
      REGISTRY: `${cluster.registry}/node-stack`,
      IMAGE_TAG: APP_TAG,
    };
    for (const [key, image] of Object.entries(named)) variables[key] = inRegistry(image);
    return { variables, bytes };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    nodesEnv: Record<string, string>;
  }
}
