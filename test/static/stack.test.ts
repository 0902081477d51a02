/**
 * docker-stack.yml (Swarm) is code: the stack loader accepts it (`docker stack config`, no swarm needed), it keeps
 * the rules Swarm needs (docs/swarm.md), and it says what the compose production profile says, service by service
 * (settings, commands, images, health checks, limits), so the hand-written Swarm file cannot drift from the
 * compose files unnoticed. Interpolation uses the files' defaults only, as in compose.test.ts.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findCompose, findExecutable, makeTempDir, repoRoot, run } from './helpers.js';

interface StackService {
  image?: string;
  entrypoint?: string[];
  command?: string[];
  networks?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test?: string[]; disable?: boolean };
  stop_grace_period?: string;
  read_only?: boolean;
  ports?: { mode?: string }[];
  volumes?: (string | { type: string; target: string })[];
  configs?: { source: string; target: string }[];
  deploy?: {
    mode?: string;
    endpoint_mode?: string;
    placement?: { constraints?: string[] };
    restart_policy?: { condition?: string; max_attempts?: number };
    update_config?: { order?: string; failure_action?: string; monitor?: string };
    rollback_config?: { order?: string };
    resources?: { limits?: { cpus?: string; memory?: string } };
  };
  [key: string]: unknown;
}
interface StackFile {
  services: Record<string, StackService>;
  secrets: Record<string, { external?: boolean }>;
  configs: Record<string, { file: string }>;
}

const stackFile = join(repoRoot, 'docker-stack.yml');
/** The file as `docker stack deploy` sees it with no variables set: `${NAME:-default}` is its default. */
const withDefaults = (source: string) =>
  source.replace(/\$\$|\$\{[A-Z0-9_]+(?::-([^}]*))?\}/g, (match, fallback?: string) =>
    match === '$$' ? '$' : (fallback ?? ''),
  );
/** PgBouncer and the database roles, deployed on top of docker-stack.yml (make stack-deploy's STACK_FILES). */
const bouncerStackFile = join(repoRoot, 'pgbouncer', 'docker-stack.yml');
const load = (file: string) => parse(withDefaults(readFileSync(file, 'utf8')), { merge: true }) as StackFile;

/** Two stack files as `docker stack deploy -c A -c B` merges them: secrets and configs joined, environment by key. */
function mergeStacks(base: StackFile, overlay: StackFile): StackFile {
  const services = { ...base.services };
  for (const [name, extra] of Object.entries(overlay.services)) {
    const own = services[name];
    services[name] = own
      ? {
          ...own,
          ...extra,
          environment: { ...own.environment, ...extra.environment },
          secrets: [
            ...((own.secrets as unknown[] | undefined) ?? []),
            ...((extra.secrets as unknown[] | undefined) ?? []),
          ],
          configs: [...(own.configs ?? []), ...(extra.configs ?? [])],
        }
      : extra;
  }
  return {
    ...base,
    services,
    secrets: { ...base.secrets, ...overlay.secrets },
    configs: { ...base.configs, ...overlay.configs },
  };
}
const stack = mergeStacks(load(stackFile), load(bouncerStackFile));
const services = Object.entries(stack.services);

describe('docker-stack.yml as Swarm needs it', () => {
  it('when any service is read, then it uses no key Swarm ignores or drops (tmpfs, shm_size, depends_on, build, restart)', () => {
    for (const [name, service] of services) {
      for (const key of ['tmpfs', 'shm_size', 'depends_on', 'build', 'restart', 'profiles', 'container_name']) {
        expect(service[key], `${name}.${key}`).toBeUndefined();
      }
      expect(service.read_only, name).toBe(true);
    }
  });

  it('when any service is read, then clients resolve it to its tasks (dnsrr; no virtual IPs, no routing mesh)', () => {
    for (const [name, service] of services) expect(service.deploy?.endpoint_mode, name).toBe('dnsrr');
    expect(stack.services.nginx?.ports?.map((port) => port.mode)).toEqual(['host']);
  });

  it('when the api is updated, then it rolls start-first, health-checked, and rolls back by itself', () => {
    expect(stack.services.api?.deploy?.update_config).toMatchObject({
      order: 'start-first',
      failure_action: 'rollback',
    });
    expect(stack.services.api?.deploy?.update_config?.monitor).toMatch(/^\d+s$/);
    // Never two tasks on one data folder, or two nginx tasks on one host port: not even for a moment, not on rollback.
    for (const name of ['postgres', 'redis-queue', 'nginx']) {
      expect(stack.services[name]?.deploy?.update_config?.order, name).toBe('stop-first');
      expect(stack.services[name]?.deploy?.rollback_config?.order, name).toBe('stop-first');
    }
  });

  it('when migrate is read, then it is a job retried until Postgres answers, and api and worker wait for its result', () => {
    const migrate = stack.services.migrate?.deploy;
    expect(migrate?.mode).toBe('replicated-job');
    expect(migrate?.restart_policy?.condition).toBe('on-failure');
    expect(migrate?.restart_policy?.max_attempts).toBeGreaterThanOrEqual(10);
    for (const name of ['api', 'worker']) {
      expect(stack.services[name]?.command?.slice(0, 2), name).toEqual(['node', '/etc/node-stack/schema-gate.mjs']);
      expect(
        stack.services[name]?.configs?.map((config) => config.target),
        name,
      ).toContain('/etc/node-stack/schema-gate.mjs');
    }
  });

  it('when the stateful services are read, then they are placed by node label (their volumes are node-local)', () => {
    expect(stack.services.postgres?.deploy?.placement?.constraints).toEqual([
      'node.labels.node-stack.postgres == true',
    ]);
    expect(stack.services['redis-queue']?.deploy?.placement?.constraints).toEqual([
      'node.labels.node-stack.redis-queue == true',
    ]);
  });

  it('when secrets and configs are read, then secrets are external (created by scripts/stack-secrets.sh) and every config file exists and is hashed into the config names by make', () => {
    for (const [name, secret] of Object.entries(stack.secrets)) expect(secret.external, name).toBe(true);
    const makefile = readFileSync(join(repoRoot, 'Makefile'), 'utf8');
    const hashed = /STACK_CONFIG_FILES := ((?:[^\n\\]|\\\n)*)/
      .exec(makefile)?.[1]
      ?.split(/[\s\\]+/)
      .filter(Boolean);
    const files = Object.values(stack.configs).map((config) => config.file.replace(/^\.\//, ''));
    for (const file of files) expect(existsSync(join(repoRoot, file)), file).toBe(true);
    expect([...(hashed ?? [])].sort()).toEqual([...files].sort());
  });

  it("when the networks are read, then they are compose's: nginx on edge, the data services on data, the api on both", () => {
    expect(stack.services.nginx?.networks).toEqual(['edge']);
    expect(stack.services.api?.networks).toEqual(['edge', 'data']);
    for (const name of ['worker', 'migrate', 'postgres', 'pgbouncer', 'redis', 'redis-queue']) {
      expect(stack.services[name]?.networks, name).toEqual(['data']);
    }
  });

  it('when the api and worker images are read, then their registry and tag come from variables', () => {
    const raw = parse(readFileSync(stackFile, 'utf8'), { merge: true }) as StackFile;
    for (const name of ['api', 'worker', 'migrate']) {
      expect(raw.services[name]?.image, name).toMatch(
        /^\$\{REGISTRY:-node-stack\}\/(api|worker):\$\{IMAGE_TAG:-dev\}$/,
      );
    }
  });
});

const docker = findExecutable('docker');
const stackConfig = docker !== undefined && run(docker, ['stack', 'config', '--help']).status === 0;
describe.skipIf(!stackConfig)(`docker stack config${stackConfig ? '' : ' (skipped: no docker CLI)'}`, () => {
  it('when docker-stack.yml and pgbouncer/docker-stack.yml are loaded as `docker stack deploy` loads them, then the stack schema accepts them', () => {
    const result = run(docker ?? 'docker', ['stack', 'config', '-c', stackFile, '-c', bouncerStackFile], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' },
    });
    expect(result.status, result.output).toBe(0);
    const loaded = parse(result.stdout) as StackFile;
    expect(loaded.services.migrate?.deploy?.mode).toBe('replicated-job');
    // The overlay adds to docker-stack.yml's services instead of replacing their secrets.
    const secretsOf = (name: string) => (loaded.services[name]?.secrets as { source: string }[]).map((s) => s.source);
    expect(secretsOf('postgres')).toEqual(expect.arrayContaining(['postgres_password', 'db_owner_password']));
    expect(secretsOf('worker')).toEqual(expect.arrayContaining(['database_url', 'database_direct_url']));
    expect(loaded.services.pgbouncer?.deploy?.endpoint_mode).toBe('dnsrr');
  });
});

// Settings the stack gives another way: secrets as *_FILE (the compose profile sets the plain variable to ''), and
// nginx's load-test key as a secret file instead of a template rendered from LOADTEST_KEY.
const COMPOSE_ONLY = new Set([
  'DATABASE_URL',
  'DATABASE_DIRECT_URL',
  'DB_OWNER_PASSWORD',
  'DB_APP_PASSWORD',
  'API_TOKEN_PEPPER',
  'POSTGRES_PASSWORD',
  'REDIS_CACHE_URL',
  'REDIS_QUEUE_URL',
  'REDIS_PASSWORD',
  'WEBHOOK_SECRET_KEY',
  'WEBHOOK_SECRET_PREVIOUS_KEYS',
  'LOADTEST_KEY',
  'NGINX_ENVSUBST_OUTPUT_DIR',
  'NGINX_ENVSUBST_FILTER',
]);
/** A setting's value as the process sees it: both loaders give an empty value as null, and numbers unquoted. */
const text = (value: unknown): string => (value === null || value === undefined ? '' : String(value));

/** '512M', '1G' or a byte count as compose renders it. */
const bytes = (size: string | undefined): number => {
  const match = /^(\d+)([kmg]?)b?$/i.exec(size ?? '');
  if (!match) return Number.NaN;
  return Number(match[1]) * 1024 ** ' kmg'.indexOf((match[2] || ' ').toLowerCase());
};

const compose = findCompose();
describe.skipIf('reason' in compose)(
  `docker-stack.yml against the compose production profile${'reason' in compose ? ` (skipped: ${compose.reason})` : ''}`,
  () => {
    const profile = (): Record<string, StackService> => {
      if ('reason' in compose) throw new Error(compose.reason);
      const envFile = join(makeTempDir('stack-static-'), 'empty.env');
      writeFileSync(envFile, '');
      const files = ['docker-compose.yml', 'docker-compose.prod.yml'].flatMap((file) => ['-f', join(repoRoot, file)]);
      const result = run(
        compose.command,
        [...compose.prefix, '--env-file', envFile, ...files, 'config', '--format', 'json'],
        {
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' },
        },
      );
      expect(result.status, result.output).toBe(0);
      return (JSON.parse(result.stdout) as { services: Record<string, StackService> }).services;
    };

    it('when each service is compared, then it has the same settings with the same values, image, health check, stop grace period and limits', () => {
      const prod = profile();
      for (const [name, service] of services) {
        const twin = prod[name];
        expect(twin, `${name} is not in the compose files`).toBeDefined();
        const composeEnv = Object.fromEntries(
          Object.entries(twin?.environment ?? {})
            .filter(([key]) => !COMPOSE_ONLY.has(key))
            .map(([key, value]) => [key, text(value)]),
        );
        const stackEnv = Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, text(v)]));
        expect(stackEnv, name).toEqual(composeEnv);
        expect(service.image, name).toBe(twin?.image);
        // compose prints `$$` (a literal `$`) escaped again
        const composeCheck = twin?.healthcheck?.test?.map((part) => part.replace(/\$\$/g, '$'));
        expect(service.healthcheck?.test, name).toEqual(composeCheck);
        expect(service.stop_grace_period, name).toBe(twin?.stop_grace_period);
        expect(bytes(service.deploy?.resources?.limits?.memory), name).toBe(
          bytes(twin?.deploy?.resources?.limits?.memory),
        );
        expect(Number(service.deploy?.resources?.limits?.cpus), name).toBe(
          Number(twin?.deploy?.resources?.limits?.cpus),
        );
      }
    });

    it("when commands are compared, then they are compose's (api and worker: the Dockerfile's CMD behind the schema gate)", () => {
      const prod = profile();
      for (const name of ['nginx', 'migrate', 'postgres', 'pgbouncer', 'redis', 'redis-queue']) {
        expect(stack.services[name]?.command ?? null, name).toEqual(prod[name]?.command ?? null);
        // compose prints `$$` (a literal `$`) escaped again
        const entrypoint = prod[name]?.entrypoint?.map((part) => part.replace(/\$\$/g, '$')) ?? null;
        expect(stack.services[name]?.entrypoint ?? null, name).toEqual(entrypoint);
      }
      const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
      for (const name of ['api', 'worker']) {
        const cmd = new RegExp(`FROM runtime AS ${name}[\\s\\S]*?\\nCMD (\\[.*\\])`).exec(dockerfile)?.[1];
        const [node, entryPoint] = JSON.parse(cmd ?? '[]') as string[];
        expect(stack.services[name]?.command, name).toEqual([node, '/etc/node-stack/schema-gate.mjs', entryPoint]);
      }
    });
  },
);
