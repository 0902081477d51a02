/**
 * The docker-compose topology as local processes from Debian's packages (no container engine): Postgres, a cache
 * Redis, a queue Redis, N api replicas, M workers and nginx, in a folder of their own (`.native` for
 * `make native-up`; tests and the benchmark use others, so stacks run side by side).
 *
 * Folder layout: stack.env (tools/stack/native/env.ts), run/<name>.{pid,start,match} (processes.ts), logs/<name>.log
 * (nginx: logs/nginx.stderr.log and logs/nginx.stdout.log, the JSON access log), launch/<name>.json (how each was
 * started; `start` runs it again), pg/ (cluster), redis-queue/ (AOF), nginx/ (prefix; conf/ links the repository's
 * nginx/ plus the generated files).
 *
 * `up` is idempotent: when the folder already runs a stack with the same counts, it starts whatever of it is down
 * (no build, migration or seed) and checks readiness; with other counts it refuses until `down`. Data (the Postgres
 * cluster, the queue's AOF) survives `down`; `up` reuses it and the previous ports when they are free.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Stack, StackAddresses } from '../stack.ts';
import { readStackEnv, writeStackEnv, type StackEnv } from './env.ts';
import { withStackLock } from './lock.ts';
import { log, NativeStackError, warn } from './log.ts';
import { planStack } from './plan.ts';
import { buildInBackground, runNodeProgram } from './programs.ts';
import { writePgbouncerConfig } from './pgbouncer.ts';
import { PostgresCluster } from './postgres.ts';
import { ProcessTable, type LaunchSpec, type Signal } from './processes.ts';
import {
  isReady,
  launchSpecs,
  portOf,
  processNames,
  writeNginxPrefix,
  writeRedisAuthConfig,
  type EntryPoints,
} from './services.ts';

export interface UpOptions {
  api: number;
  workers: number;
  /** once: seed a new cluster once (SEED_PRODUCTS); force: seed again with SEED_RESET=true; none: no seed. */
  seed: 'once' | 'force' | 'none';
  seedProducts: number;
  /** Postgres with fsync, synchronous_commit and full_page_writes off (throwaway runs). */
  fast: boolean;
  /** `npm run build` first (in the background while Postgres and Redis start). */
  build: boolean;
  poolMax?: number;
  /** Postgres' max_connections (tools/stack/native/plan.ts, the connection budget). */
  pgMaxConnections?: number;
  /** Leave the processes running when `up` fails (for debugging). */
  keepOnFail: boolean;
  mains: EntryPoints;
}

export interface ProcessStatus {
  name: string;
  pid: number | undefined;
  address: string;
}

export class NativeStack implements Stack {
  readonly mode = 'native' as const;
  readonly dir: string;
  readonly repo: string;
  readonly processes: ProcessTable;
  /** Seconds to wait for each readiness stage. */
  timeoutSeconds = 90;
  /** Seconds a process gets to exit after SIGTERM before SIGKILL. */
  stopTimeoutSeconds = 20;

  constructor(dir: string, repo: string) {
    if (dir === '/' || dir === repo) throw new NativeStackError(`refusing stack folder ${dir}`);
    this.dir = dir;
    this.repo = repo;
    this.processes = new ProcessTable(dir, repo);
  }

  /** The stack's stack.env, checked (throws when the folder has none). */
  get env(): StackEnv {
    return readStackEnv(this.dir);
  }

  /** The JSON access log nginx writes to its stdout. */
  get accessLogPath(): string {
    return join(this.dir, 'logs', 'nginx.stdout.log');
  }

  /** The PID of a running process of this stack (the benchmark profiles them by role). */
  pidOf(name: string): number | undefined {
    return this.processes.pidOf(name);
  }

  addresses(): StackAddresses {
    const env = this.env;
    return {
      env: env.raw,
      databaseUrl: env.databaseUrl,
      databaseAdminUrl: env.databaseAdminUrl,
      redisCacheUrl: env.redisCache.url,
      redisQueueUrl: env.redisQueue.url,
      nginxUrl: env.nginx.url,
      apiUrls: env.apis.map((api) => api.url),
      apiMetricsUrls: env.apis.map((api) => api.metricsUrl),
      apiNames: env.apis.map((api) => api.name),
      tokenPepper: env.secrets.pepper,
      loadtestKey: env.secrets.loadtestKey,
    };
  }

  pause(name: string): Promise<void> {
    return this.stop(name, 'SIGSTOP');
  }

  resume(name: string): Promise<void> {
    return this.stop(name, 'SIGCONT');
  }

  scale(count: number): Promise<void> {
    return Promise.reject(new NativeStackError(`scale(${count}): a native stack runs the replica count of its up`));
  }

  accessLog(): Promise<string> {
    return readFile(this.accessLogPath, 'utf8');
  }

  status(): ProcessStatus[] {
    const env = this.env;
    return processNames(env).map((name) => ({
      name,
      pid: this.processes.pidOf(name),
      address: `127.0.0.1:${portOf(env, name)}`,
    }));
  }

  async up(options: UpOptions): Promise<StackEnv> {
    mkdirSync(this.dir, { recursive: true });
    return withStackLock(this.dir, async () => {
      const resumed = await this.resumeRunning(options);
      if (resumed) return resumed;
      const started = performance.now();
      log(`up: ${options.api} API, ${options.workers} worker(s) in ${this.dir}`);
      try {
        const env = await this.startFresh(options, started);
        log(`stack up in ${Math.round((performance.now() - started) / 1000)}s: ${env.nginx.url}`);
        return env;
      } catch (error) {
        if (options.keepOnFail) warn('up failed; processes left running (NATIVE_KEEP_ON_FAIL=1)');
        else {
          warn('up failed; stopping what it started (NATIVE_KEEP_ON_FAIL=1 keeps it)');
          await this.stopAll().catch((stopError: unknown) => warn(`stopping failed too: ${String(stopError)}`));
        }
        throw error;
      }
    });
  }

  /** Stops every process that has a PID file here; `purge` also deletes the folder (data included). */
  async down(purge = false): Promise<void> {
    if (!existsSync(this.dir)) {
      log(`nothing to stop: ${this.dir} does not exist`);
      return;
    }
    if (!existsSync(join(this.dir, '.native-stack')) && !existsSync(join(this.dir, 'stack.env'))) {
      throw new NativeStackError(`${this.dir} is not a native stack folder (no .native-stack)`);
    }
    const socketDir = existsSync(join(this.dir, 'stack.env')) ? this.env.pg.socketDir : '';
    await withStackLock(this.dir, () => this.stopAll());
    if (purge) {
      if (socketDir.startsWith('/tmp/native-pg-')) rmSync(socketDir, { recursive: true, force: true });
      rmSync(this.dir, { recursive: true, force: true });
      log(`stopped and deleted ${this.dir}`);
    } else {
      log(`stopped; data kept in ${this.dir} (make native-down PURGE=1 deletes it)`);
    }
  }

  /**
   * Starts one process that is down (a no-op for a running one) and waits until it is ready. `extraEnv` is added to
   * the environment it inherits (the stack's own settings still win), e.g. a shorter SHUTDOWN_TIMEOUT_MS.
   */
  async start(name: string, extraEnv: Record<string, string> = {}): Promise<void> {
    const env = this.env;
    portOf(env, name); // throws for an unknown name
    await withStackLock(this.dir, async () => {
      if (this.processes.pidOf(name) !== undefined) {
        log(`${name} is already running`);
        return;
      }
      await this.startOne(env, name, extraEnv);
      await this.waitReady(env, [name]);
    });
  }

  /**
   * Stops one process. Default: graceful (SIGTERM, wait, then SIGKILL; Postgres: pg_ctl -m fast). SIGKILL kills it
   * and its children at once; SIGSTOP/SIGCONT freeze and thaw it (as `docker pause` does).
   */
  async stop(name: string, sig?: Signal): Promise<void> {
    const env = this.env;
    portOf(env, name);
    await withStackLock(this.dir, async () => {
      if (name === 'postgres') await new PostgresCluster(env, this.processes).stop(sig, this.stopTimeoutSeconds);
      else await this.processes.stop(name, sig ?? 'SIGTERM', this.stopTimeoutSeconds);
    });
  }

  // --- up, step by step ----------------------------------------------------------------------------------------

  /** The running stack when the folder already runs one with these counts (after starting what is down). */
  private async resumeRunning(options: UpOptions): Promise<StackEnv | undefined> {
    const alive = this.processes.recordedNames().filter((name) => this.processes.pidOf(name) !== undefined);
    if (alive.length === 0) return undefined;
    const env = existsSync(join(this.dir, 'stack.env')) ? this.env : undefined;
    if (env?.apis.length !== options.api || env.workers.length !== options.workers) {
      throw new NativeStackError(
        `a stack with other counts runs in ${this.dir} (running: ${alive.join(' ')}); run make native-down first`,
      );
    }
    log(`stack in ${this.dir} is already running; starting what is down and checking readiness`);
    const restarted: string[] = [];
    try {
      for (const name of processNames(env)) {
        if (this.processes.pidOf(name) === undefined) {
          restarted.push(name);
          await this.startOne(env, name);
        }
      }
      await this.waitReady(env, processNames(env));
    } catch (error) {
      if (restarted.length > 0 && !options.keepOnFail) {
        warn(`up failed; stopping what it restarted: ${restarted.join(' ')}`);
        for (const name of restarted.reverse()) await this.stopQuietly(env, name);
      }
      throw error;
    }
    return env;
  }

  private async startFresh(options: UpOptions, started: number): Promise<StackEnv> {
    const elapsed = () => `${Math.round((performance.now() - started) / 1000)}s`;
    writeFileSync(join(this.dir, '.native-stack'), '');
    for (const folder of ['run', 'logs', 'launch', 'redis-cache', 'redis-queue']) {
      mkdirSync(join(this.dir, folder), { recursive: true, mode: 0o755 });
    }
    this.processes.forgetAll();
    const logs = join(this.dir, 'logs');
    for (const file of readdirSync(logs)) if (file.endsWith('.log')) rmSync(join(logs, file));

    const build = options.build ? buildInBackground(this.repo, this.processes.logFile('build')) : Promise.resolve();
    build.catch(() => undefined); // awaited below; not unhandled meanwhile
    const lines = await planStack({
      dir: this.dir,
      repo: this.repo,
      apiCount: options.api,
      workerCount: options.workers,
      fast: options.fast,
      ...(options.poolMax === undefined ? {} : { poolMax: options.poolMax }),
      ...(options.pgMaxConnections === undefined ? {} : { pgMaxConnections: options.pgMaxConnections }),
    });
    const env = writeStackEnv(this.dir, lines);
    await writeNginxPrefix(env, join(this.repo, 'nginx'));

    const postgres = new PostgresCluster(env, this.processes);
    await postgres.init();
    postgres.writeConfig();
    await postgres.start(this.timeoutSeconds);
    await postgres.createRolesAndDatabase();
    log(`postgres up (${elapsed()})`);

    const specs = launchSpecs(env, options.mains);
    for (const [name, spec] of Object.entries(specs)) {
      writeFileSync(join(this.dir, 'launch', `${name}.json`), JSON.stringify(spec, null, 2), { mode: 0o600 });
    }
    await this.startAndWait(env, ['pgbouncer', 'redis-cache', 'redis-queue']);

    await build;
    if (options.build) log(`build done (${elapsed()})`);
    for (const main of [options.mains.api, options.mains.worker, options.mains.migrate]) {
      if (!existsSync(main)) throw new NativeStackError(`${main} missing after the build`);
    }
    await runNodeProgram(env, this.processes.logFile('migrate'), options.mains.migrate, {
      MIGRATIONS_DIR: join(this.repo, 'db', 'init'),
    });
    log(`migrations applied (${elapsed()})`);
    await this.seed(env, options);

    await this.startAndWait(env, [...env.apis.map((api) => api.name), ...env.workers.map((worker) => worker.name)]);
    await this.startAndWait(env, ['nginx']);
    return env;
  }

  private async seed(env: StackEnv, options: UpOptions): Promise<void> {
    const marker = join(this.dir, 'seeded');
    if (options.seed === 'none') return;
    if (options.seed === 'once' && existsSync(marker)) {
      log(`already seeded (${readFileSync(marker, 'utf8').trim()}); NATIVE_SEED=force seeds again`);
      return;
    }
    log(`seeding SEED_PRODUCTS=${options.seedProducts} (log: ${this.processes.logFile('seed')})`);
    await runNodeProgram(env, this.processes.logFile('seed'), options.mains.seed, {
      SEED_PRODUCTS: String(options.seedProducts),
      SEED_RESET: options.seed === 'force' ? 'true' : 'false',
      DEV_ADMIN_TOKEN: env.secrets.devAdminToken,
      DEV_CUSTOMER_TOKEN: env.secrets.devCustomerToken,
    });
    writeFileSync(marker, `SEED_PRODUCTS=${options.seedProducts}\n`);
  }

  // --- processes ------------------------------------------------------------------------------------------------

  private launchSpec(name: string): LaunchSpec {
    const path = join(this.dir, 'launch', `${name}.json`);
    if (!existsSync(path)) throw new NativeStackError(`no launch spec ${path}; run make native-up`);
    return JSON.parse(readFileSync(path, 'utf8')) as LaunchSpec;
  }

  private async startOne(env: StackEnv, name: string, extraEnv: Record<string, string> = {}): Promise<void> {
    if (name === 'postgres') {
      await new PostgresCluster(env, this.processes).start(this.timeoutSeconds);
      return;
    }
    if (name === 'nginx') await writeNginxPrefix(env, join(this.repo, 'nginx'));
    if (name.startsWith('redis-')) writeRedisAuthConfig(env, name);
    if (name === 'pgbouncer') writePgbouncerConfig(env, this.repo);
    this.processes.launch(name, this.launchSpec(name), extraEnv);
  }

  private async startAndWait(env: StackEnv, names: string[]): Promise<void> {
    for (const name of names) await this.startOne(env, name);
    await this.waitReady(env, names);
  }

  /** Waits until every name answers its readiness check; fails fast, with its log, when one exits. */
  private async waitReady(env: StackEnv, names: string[]): Promise<void> {
    const deadline = Date.now() + this.timeoutSeconds * 1000;
    let pending = [...names];
    while (pending.length > 0) {
      const ready = await Promise.all(pending.map((name) => isReady(env, name)));
      const still: string[] = [];
      pending.forEach((name, index) => {
        if (ready[index]) log(`${name} ready on 127.0.0.1:${portOf(env, name)}`);
        else if (this.processes.pidOf(name) === undefined) {
          throw new NativeStackError(
            `${name} exited while starting (log: ${this.processes.logFile(name)})\n${this.processes.logTail(name)}`,
          );
        } else still.push(name);
      });
      pending = still;
      if (pending.length === 0) return;
      if (Date.now() > deadline) {
        const tails = pending.map((name) => this.processes.logTail(name)).join('\n');
        throw new NativeStackError(`not ready after ${this.timeoutSeconds}s: ${pending.join(' ')}\n${tails}`);
      }
      await sleep(200);
    }
  }

  private async stopQuietly(env: StackEnv, name: string): Promise<void> {
    try {
      if (name === 'postgres') await new PostgresCluster(env, this.processes).stop(undefined, this.stopTimeoutSeconds);
      else await this.processes.stop(name, 'SIGTERM', this.stopTimeoutSeconds);
    } catch (error) {
      warn(`stopping ${name}: ${String(error)}`);
    }
  }

  /** nginx, then the Node processes together (they drain in parallel), then PgBouncer and both Redis, then Postgres. */
  private async stopAll(): Promise<void> {
    const names = this.processes.recordedNames();
    const stop = (name: string) => this.processes.stop(name, 'SIGTERM', this.stopTimeoutSeconds);
    if (names.includes('nginx')) await stop('nginx');
    await Promise.all(names.filter((name) => /^(api|worker)-/.test(name)).map(stop));
    await Promise.all(names.filter((name) => name.startsWith('redis-') || name === 'pgbouncer').map(stop));
    if (names.includes('postgres') || existsSync(join(this.dir, 'pg', 'PG_VERSION'))) {
      if (existsSync(join(this.dir, 'stack.env'))) {
        await new PostgresCluster(this.env, this.processes).stop(undefined, this.stopTimeoutSeconds);
      }
    }
  }
}
