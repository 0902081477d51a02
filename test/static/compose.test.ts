/**
 * docker-compose.yml (dev / `make up`) and docker-compose.prod.yml (overlay) are code: linted with dclint,
 * rendered with `docker compose config` when a compose CLI is available (scripts/setup-compose.sh builds one),
 * and the overlay is checked against the Docker CLI's swarm stack schema. Interpolation uses the files'
 * defaults only (an empty env file and a minimal environment), so a developer's .env cannot change the result.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findCompose, findExecutable, makeTempDir, repoRoot, run } from './helpers.js';

interface Service {
  image?: string;
  build?: unknown;
  container_name?: string;
  ports?: unknown[];
  volumes?: unknown[];
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }> | string[];
  command?: string[];
  profiles?: string[];
  stop_grace_period?: string;
  read_only?: boolean;
  restart?: string;
  secrets?: unknown[];
  logging?: { driver?: string; options?: Record<string, string> };
  healthcheck?: { test?: string[]; disable?: boolean };
  deploy?: {
    replicas?: number;
    resources?: { limits?: { cpus?: string | number; memory?: string } };
  };
}
interface ComposeModel {
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string }>;
}

const baseFile = join(repoRoot, 'docker-compose.yml');
const prodFile = join(repoRoot, 'docker-compose.prod.yml');
const bouncerFile = join(repoRoot, 'pgbouncer', 'docker-compose.yml');
const compose = findCompose();
const docker = findExecutable('docker');
const minimalEnv = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? '/root',
};
const tempDirs: string[] = [];
let emptyEnvFile = '';

beforeAll(() => {
  const dir = makeTempDir('compose-static-');
  tempDirs.push(dir);
  emptyEnvFile = join(dir, 'empty.env');
  writeFileSync(emptyEnvFile, '');
});
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function composeRun(files: readonly string[], args: readonly string[]) {
  if ('reason' in compose) throw new Error(compose.reason);
  const fileArgs = files.flatMap((file) => ['-f', file]);
  return run(compose.command, [...compose.prefix, '--env-file', emptyEnvFile, ...fileArgs, ...args], {
    env: minimalEnv,
  });
}

function rendered(files: readonly string[]): ComposeModel {
  const result = composeRun(files, ['config', '--format', 'json']);
  expect(result.status, result.output).toBe(0);
  return JSON.parse(result.stdout) as ComposeModel;
}

const seconds = (duration: string | undefined): number => {
  const match = /^(\d+)(ms|s|m)$/.exec(duration ?? '');
  if (!match) return Number.NaN;
  const unit = { ms: 0.001, s: 1, m: 60 }[match[2] as 'ms' | 's' | 'm'];
  return Number(match[1]) * unit;
};

describe('dclint', () => {
  it('when both compose files are linted, then there are no errors and no warnings', () => {
    const result = run(join(repoRoot, 'node_modules', '.bin', 'dclint'), [
      '--config',
      join(repoRoot, '.dclintrc.yml'),
      '--max-warnings',
      '0',
      '--no-color',
      baseFile,
      prodFile,
      bouncerFile,
    ]);
    expect(result.status, result.output).toBe(0);
  });
});

describe('docker-compose.yml as written', () => {
  const base = parse(readFileSync(baseFile, 'utf8'), {
    merge: true,
  }) as ComposeModel;
  const api = base.services.api ?? {};

  it('when api is read, then it can be scaled: no container_name and no host ports', () => {
    expect(api.container_name).toBeUndefined();
    expect(api.ports).toBeUndefined();
  });

  it('when api and worker are read, then their stop grace period exceeds the app shutdown deadline', () => {
    for (const name of ['api', 'worker']) {
      const service = base.services[name] ?? {};
      const deadlineMs = Number(/\d+/.exec(String(service.environment?.SHUTDOWN_TIMEOUT_MS ?? ''))?.[0]);
      expect(seconds(service.stop_grace_period), name).toBeGreaterThan(deadlineMs / 1000);
    }
  });

  it('when api and worker start, then they wait for healthy data services and finished migrations', () => {
    for (const name of ['api', 'worker']) {
      expect(base.services[name]?.depends_on, name).toMatchObject({
        postgres: { condition: 'service_healthy' },
        pgbouncer: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
        'redis-queue': { condition: 'service_healthy' },
        migrate: { condition: 'service_completed_successfully' },
      });
    }
    expect(base.services.migrate?.restart).toBe('no');
    expect(base.services.migrate?.command).toEqual(['node', 'core/dist/cli/migrate.js']);
  });

  it('when postgres is read, then db/init is not mounted as init scripts (migrate applies it); the roles script is', () => {
    const volumes = JSON.stringify(base.services.postgres?.volumes ?? []);
    expect(volumes).not.toMatch(/db\/init[^"]*docker-entrypoint-initdb\.d/);
    expect(volumes).toContain('./db/docker-init/roles.sh:/docker-entrypoint-initdb.d/10-roles.sh:ro');
  });

  it('when the database clients are read, then api and worker use app_rw through PgBouncer, and migrate, seed and the LISTEN go direct', () => {
    const env = (name: string) => base.services[name]?.environment ?? {};
    for (const name of ['api', 'worker']) {
      expect(env(name).DATABASE_URL, name).toMatch(/^postgres:\/\/app_rw:[^@]+@pgbouncer:6432\//);
    }
    expect(env('worker').DATABASE_DIRECT_URL).toMatch(/^postgres:\/\/app_rw:[^@]+@postgres:5432\//);
    for (const name of ['migrate', 'seed']) {
      expect(env(name).DATABASE_URL, name).toMatch(/^postgres:\/\/app_owner:[^@]+@postgres:5432\//);
    }
    // Transaction pooling drops startup parameters: the guards are role settings (db/roles.sql), not settings here.
    for (const name of ['api', 'worker']) expect(Object.keys(env(name)).join(' ')).not.toMatch(/STATEMENT_TIMEOUT/);
    // Its own file, included by docker-compose.yml (as observability/ is).
    expect((base as { include?: string[] }).include).toContain('pgbouncer/docker-compose.yml');
    const bouncer = (parse(readFileSync(bouncerFile, 'utf8')) as ComposeModel).services.pgbouncer;
    expect(bouncer?.image).toMatch(/^\$\{PGBOUNCER_IMAGE:-edoburu\/pgbouncer:v1\.2[1-9][\d.]*-p\d+\}$/);
    expect(bouncer?.profiles, 'always on, not a profile').toBeUndefined();
    expect(bouncer?.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect((bouncer as { networks?: string[] } | undefined)?.networks).toEqual(['data']);
  });

  it('when the two Redis services are read, then the cache evicts and the queue never does', () => {
    expect(base.services.redis?.command?.join(' ')).toMatch(/--maxmemory 256mb --maxmemory-policy allkeys-lru/);
    const queue = base.services['redis-queue']?.command?.join(' ') ?? '';
    expect(queue).toMatch(/--maxmemory-policy noeviction/);
    expect(queue).toMatch(/--appendonly yes/);
  });

  it('when the networks are read, then nginx is on edge only, the data services on data only, and the api on both', () => {
    const networksOf = (name: string) => (base.services[name] as { networks?: string[] } | undefined)?.networks;
    expect(networksOf('nginx')).toEqual(['edge']);
    expect(networksOf('api')).toEqual(['edge', 'data']);
    for (const name of ['worker', 'migrate', 'seed', 'postgres', 'redis', 'redis-queue']) {
      expect(networksOf(name), name).toEqual(['data']);
    }
  });

  it('when the Redis services are read, then both require a password, read as the health check reads it', () => {
    for (const name of ['redis', 'redis-queue']) {
      const service = base.services[name] as Service & { entrypoint?: string[] };
      expect(service.environment?.REDIS_PASSWORD, name).toMatch(/^\$\{REDIS_(CACHE|QUEUE)_PASSWORD:-dev-only-/);
      expect(service.entrypoint?.[2], name).toContain('requirepass $$password');
      expect(service.command?.[0], name).toBe('redis-server');
      expect(service.healthcheck?.test?.[1], name).toMatch(/^REDISCLI_AUTH=/);
    }
  });

  it('when images are read, then every pulled image is pinned to a version and can be replaced by a variable', () => {
    for (const [name, service] of Object.entries(base.services)) {
      if (service.image?.startsWith('node-stack/')) continue; // built here (api) or the api image (migrate, seed)
      // ${NGINX_IMAGE:-nginx:1.30-alpine}: the tests select stand-ins through the variable; users get the default.
      const variable = /^\$\{[A-Z0-9_]+_IMAGE:-(.+)\}$/.exec(service.image ?? '');
      expect(variable, `${name}: ${service.image}`).not.toBeNull();
      // Prometheus' images tag their versions with a v (prom/prometheus:v2.53.3).
      expect(variable?.[1], name).toMatch(/^[\w./-]+:v?\d+(\.\d+)*(-[\w.]+)?$/);
    }
  });

  it('when the node services are read, then exactly one builds the app image and the others reuse it', () => {
    const builders = Object.entries(base.services).filter(([, service]) => service.build);
    expect(builders.map(([name]) => name).sort()).toEqual(['api', 'worker']);
    for (const name of ['migrate', 'seed']) expect(base.services[name]?.image).toBe(api.image);
  });

  it('when health checks set start_interval, then they set start_period too (compose >= 2.36 refuses one alone)', () => {
    for (const [name, service] of Object.entries(base.services)) {
      const check = service.healthcheck as { start_interval?: string; start_period?: string } | undefined;
      if (check?.start_interval) expect(check.start_period, name).toBeDefined();
    }
  });

  it('when k6 is read, then it only runs under the loadtest profile', () => {
    expect(base.services.k6?.profiles).toEqual(['loadtest']);
  });
});

describe.skipIf('reason' in compose)(
  `docker compose config${'reason' in compose ? ` (skipped: ${compose.reason})` : ''}`,
  () => {
    it('when the base file is rendered, then compose accepts it', () => {
      const result = composeRun([baseFile], ['config', '--quiet']);
      expect(result.status, result.output).toBe(0);
    });

    it('when base and prod overlay are rendered, then compose accepts them', () => {
      const result = composeRun([baseFile, prodFile], ['config', '--quiet']);
      expect(result.status, result.output).toBe(0);
    });

    it('when the prod profile is rendered, then no secret is passed in plain text', () => {
      const prod = rendered([baseFile, prodFile]);
      const env = (name: string) => prod.services[name]?.environment ?? {};
      for (const name of ['api', 'worker']) {
        expect(env(name).DATABASE_URL ?? '', name).toBe('');
        expect(env(name).DATABASE_URL_FILE, name).toBe('/run/secrets/database_url');
      }
      expect(env('worker').DATABASE_DIRECT_URL ?? '').toBe('');
      expect(env('worker').DATABASE_DIRECT_URL_FILE).toBe('/run/secrets/database_direct_url');
      expect(env('migrate').DATABASE_URL ?? '').toBe('');
      expect(env('migrate').DATABASE_URL_FILE).toBe('/run/secrets/database_owner_url');
      for (const name of ['DB_OWNER_PASSWORD', 'DB_APP_PASSWORD']) {
        expect(env('postgres')[name] ?? '', name).toBe('');
        expect(env('postgres')[`${name}_FILE`], name).toBe(`/run/secrets/${name.toLowerCase()}`);
      }
      expect(env('pgbouncer').DB_APP_PASSWORD ?? '').toBe('');
      expect(env('pgbouncer').DB_APP_PASSWORD_FILE).toBe('/run/secrets/db_app_password');
      for (const name of ['api', 'worker']) {
        for (const redis of ['cache', 'queue']) {
          const key = `REDIS_${redis.toUpperCase()}_URL`;
          expect(env(name)[key] ?? '', `${name} ${key}`).toBe('');
          expect(env(name)[`${key}_FILE`], name).toBe(`/run/secrets/redis_${redis}_url`);
        }
      }
      for (const [name, secret] of [
        ['redis', 'redis_cache_password'],
        ['redis-queue', 'redis_queue_password'],
      ]) {
        expect(env(name as string).REDIS_PASSWORD ?? '', name).toBe('');
        expect(env(name as string).REDIS_PASSWORD_FILE, name).toBe(`/run/secrets/${secret}`);
      }
      expect(env('api').API_TOKEN_PEPPER ?? '').toBe('');
      expect(env('api').API_TOKEN_PEPPER_FILE).toBe('/run/secrets/api_token_pepper');
      expect(env('postgres').POSTGRES_PASSWORD ?? '').toBe('');
      expect(env('postgres').POSTGRES_PASSWORD_FILE).toBe('/run/secrets/postgres_password');
      expect(env('nginx').LOADTEST_KEY ?? '').toBe('');
      // A forgotten secret file must stop the profile, not let it serve with the base file's public dev secrets.
      for (const name of ['api', 'worker']) expect(env(name).ALLOW_DEV_SECRETS, name).toBe('false');
      expect(rendered([baseFile]).services.api?.environment?.ALLOW_DEV_SECRETS).toBe('true');
      expect(Object.keys(prod.secrets ?? {}).sort()).toEqual([
        'api_token_pepper',
        'database_direct_url',
        'database_owner_url',
        'database_url',
        'db_app_password',
        'db_owner_password',
        'postgres_password',
        'redis_cache_password',
        'redis_cache_url',
        'redis_queue_password',
        'redis_queue_url',
        'webhook_secret_key',
        'webhook_secret_previous_keys',
      ]);
      for (const name of ['api', 'worker']) {
        expect(env(name).WEBHOOK_SECRET_KEY ?? '', name).toBe('');
        expect(env(name).WEBHOOK_SECRET_KEY_FILE, name).toBe('/run/secrets/webhook_secret_key');
      }
      expect(env('worker').WEBHOOK_SECRET_PREVIOUS_KEYS ?? '').toBe('');
      expect(env('worker').WEBHOOK_SECRET_PREVIOUS_KEYS_FILE).toBe('/run/secrets/webhook_secret_previous_keys');
    });

    it('when the prod profile is rendered, then services are replicated, limited, read-only and log-bounded', () => {
      const prod = rendered([baseFile, prodFile]);
      expect(prod.services.api?.deploy?.replicas).toBe(3);
      expect(prod.services.worker?.deploy?.replicas).toBeGreaterThanOrEqual(2);
      for (const [name, service] of Object.entries(prod.services)) {
        expect(service.read_only, name).toBe(true);
        expect(service.logging?.driver, name).toBe('json-file');
        expect(service.logging?.options?.['max-size'], name).toBeDefined();
        expect(service.deploy?.resources?.limits?.memory, name).toBeDefined();
        expect(service.deploy?.resources?.limits?.cpus, name).toBeDefined();
        if (name !== 'nginx') expect(service.ports, name).toBeUndefined();
      }
      expect(prod.services.k6).toBeUndefined();
    });
  },
);

// `docker stack config` validates and merges like `docker stack deploy`, without a swarm. The raw base file is
// rejected by the stack schema for three compose-only features it needs for `make up` (k6's `profiles`, the
// long form of depends_on, the `include` of the observability profile); see docker-compose.prod.yml's header. This
// check removes exactly those three and validates everything else, in particular every key of the prod overlay.
const stackConfigAvailable = docker !== undefined && run(docker, ['stack', 'config', '--help']).status === 0;
describe.skipIf(!stackConfigAvailable)(
  `docker stack schema${stackConfigAvailable ? '' : ' (skipped: no docker CLI with `stack config`)'}`,
  () => {
    it('when the base file without profiles and depends_on conditions is stacked with the overlay, then the stack schema accepts them', () => {
      const base = parse(readFileSync(baseFile, 'utf8'), {
        merge: true,
      }) as ComposeModel & Record<string, unknown>;
      for (const key of Object.keys(base)) if (key.startsWith('x-') || key === 'include') delete base[key];
      for (const [name, service] of Object.entries(base.services)) {
        if (service.profiles) delete base.services[name];
        else if (service.depends_on && !Array.isArray(service.depends_on)) {
          service.depends_on = Object.keys(service.depends_on);
        }
      }
      const dir = makeTempDir('stack-static-');
      tempDirs.push(dir);
      mkdirSync(join(dir, 'project'));
      const stripped = join(dir, 'project', 'docker-compose.stack-base.json');
      writeFileSync(stripped, JSON.stringify(base));
      const result = run(docker ?? 'docker', ['stack', 'config', '-c', stripped, '-c', prodFile], {
        env: minimalEnv,
      });
      expect(result.status, result.output).toBe(0);
      const merged = parse(result.stdout) as ComposeModel;
      expect(merged.services.api?.deploy?.replicas).toBe(3);
    });
  },
);
