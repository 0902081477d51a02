/**
 * The native stack's Postgres cluster: initdb once, settings rewritten on every `up`, started and stopped with
 * pg_ctl as the `postgres` system user when we are root (initdb and postgres refuse to run as root).
 */
import { execFile } from 'node:child_process';
import {
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { StackEnv } from './env.ts';
import { log, NativeStackError, warn } from './log.ts';
import { pidRunning, tailOf, type ProcessTable, type Signal } from './processes.ts';

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;

/** The newest server under /usr/lib/postgresql (Debian's layout), or PG_BIN. */
export function postgresBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const versions = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql')
        .filter((version) => existsSync(join('/usr/lib/postgresql', version, 'bin', 'initdb')))
        .sort((a, b) => Number(a) - Number(b))
    : [];
  const newest = versions.at(-1);
  if (newest === undefined) {
    throw new NativeStackError('PostgreSQL server binaries not found under /usr/lib/postgresql; run make setup');
  }
  return join('/usr/lib/postgresql', newest, 'bin');
}

/** Runs a Postgres program as the `postgres` user when we are root, from `/` (its home may not be readable). */
async function asPostgres(command: string, args: string[], timeoutMs = 120_000): Promise<string> {
  const [file, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  const { stdout, stderr } = await run(file, argv, { cwd: '/', timeout: timeoutMs });
  return stdout + stderr;
}

const giveToPostgres = (path: string) => {
  if (isRoot) {
    const [uid, gid] = postgresIds();
    chownSync(path, uid, gid);
  }
};

function postgresIds(): [number, number] {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  if (!line) throw new NativeStackError('system user postgres missing (it comes with the postgresql package)');
  const [, , uid, gid] = line.split(':');
  return [Number(uid), Number(gid)];
}

/** A Unix socket path must fit in 107 bytes: a deep stack folder puts the socket in /tmp instead. */
export function socketDirFor(dir: string): string {
  const inside = join(dir, 'pg-socket');
  if (inside.length + 20 <= 107) return inside;
  let hash = 0;
  for (const char of dir) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return `/tmp/native-pg-${hash.toString(16)}`;
}

export class PostgresCluster {
  readonly env: StackEnv;
  readonly bin: string;
  readonly processes: ProcessTable;
  readonly logPath: string;

  constructor(env: StackEnv, processes: ProcessTable) {
    this.env = env;
    this.bin = postgresBinDir();
    this.processes = processes;
    this.logPath = join(processes.logDir, 'postgres.log');
  }

  private get data(): string {
    return this.env.pg.data;
  }

  /** initdb when the data folder has no cluster yet; an existing cluster (and its data) is kept. */
  async init(): Promise<void> {
    if (existsSync(join(this.data, 'PG_VERSION'))) {
      log(`Postgres cluster exists in ${this.data} (kept)`);
      return;
    }
    log(`initdb ${this.data}`);
    mkdirSync(this.data, { recursive: true, mode: 0o700 });
    giveToPostgres(this.data);
    try {
      await asPostgres(join(this.bin, 'initdb'), [
        '-D',
        this.data,
        '-U',
        'postgres',
        '-A',
        'trust',
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
      ]);
    } catch (error) {
      throw new NativeStackError(
        `initdb failed (every folder above the stack folder must be searchable by the postgres user): ${String(error)}`,
      );
    }
    // Throwaway cluster: local sockets and the superuser over loopback are trusted; the app role uses its password.
    writeFileSync(
      join(this.data, 'pg_hba.conf'),
      [
        '# Written by the native stack (throwaway cluster, listens on 127.0.0.1 only).',
        'local all all                  trust',
        'host  all postgres 127.0.0.1/32 trust',
        'host  all all      127.0.0.1/32 scram-sha-256',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(this.data, 'postgresql.conf'),
      "\n# Settings for native mode, rewritten on every up.\ninclude 'native.conf'\n",
      { flag: 'a' },
    );
  }

  /** native.conf: the stack's port, socket and connection budget, and settings for a 2-core machine. */
  writeConfig(): void {
    const socketDir = this.env.pg.socketDir;
    mkdirSync(socketDir, { recursive: true });
    giveToPostgres(socketDir);
    const fast = this.env.fast
      ? '# NATIVE_FAST=1: a crash may lose or corrupt data; for test runs only.\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n'
      : '';
    const path = join(this.data, 'native.conf');
    writeFileSync(
      path,
      `# Written by make native-up; edits are overwritten.
listen_addresses = '127.0.0.1'
port = ${this.env.pg.port}
unix_socket_directories = '${socketDir}'

# Connection budget (tools/stack/native/plan.ts): PgBouncer's server connections, the workers' LISTEN connections,
# and what connects directly: migrations, seed, tests, psql and the benchmark's naive pool.
max_connections = ${this.env.pg.maxConnections}
superuser_reserved_connections = 3

# Memory for a 2-core, 24 GiB machine shared with Redis, nginx, the Node processes and the load generator.
shared_buffers = 512MB
effective_cache_size = 8GB
work_mem = 8MB                  # per sort/hash node; 200 connections x a few nodes stays far below RAM
maintenance_work_mem = 256MB    # index builds after seed and bulk import
wal_buffers = 16MB
max_wal_size = 2GB              # fewer checkpoints during seed and import
min_wal_size = 256MB
checkpoint_completion_target = 0.9

# Two cores: at most one parallel helper per query, so a big scan cannot take both cores from the API.
max_worker_processes = 4
max_parallel_workers = 2
max_parallel_workers_per_gather = 1
max_parallel_maintenance_workers = 1
jit = off                       # short OLTP queries: compiling costs more than it saves

# SSD-backed storage.
random_page_cost = 1.1
effective_io_concurrency = 200

log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = 1000
log_lock_waits = on
timezone = 'UTC'
${fast}`,
    );
    giveToPostgres(path);
  }

  /**
   * Every process of this cluster. Postgres children call setsid() themselves, so the postmaster's process group does
   * not hold them; what marks each of them is its working directory, the data folder.
   */
  clusterPids(): number[] {
    const pids: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (readlinkSync(`/proc/${entry}/cwd`) !== this.data) continue;
        if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      } catch {
        continue;
      }
      if (pidRunning(Number(entry))) pids.push(Number(entry));
    }
    return pids;
  }

  private async waitClusterGone(seconds: number): Promise<boolean> {
    const deadline = Date.now() + seconds * 1000;
    while (this.clusterPids().length > 0) {
      if (Date.now() > deadline) return false;
      await sleep(100);
    }
    return true;
  }

  /** SIGKILL to the postmaster and every process of the cluster at once, as a container kill would. */
  private async killCluster(): Promise<void> {
    const pids = this.clusterPids();
    if (pids.length > 0) log(`postgres: SIGKILL to the cluster's processes: ${pids.join(' ')}`);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    if (!(await this.waitClusterGone(10))) {
      warn(`Postgres processes still present after SIGKILL: ${this.clusterPids().join(' ')}`);
    }
  }

  async start(timeoutSeconds: number): Promise<void> {
    // After a crash or a kill, backends may outlive the postmaster for a moment; a new postmaster must not meet them.
    if (this.processes.pidOf('postgres') === undefined && !(await this.waitClusterGone(10))) {
      throw new NativeStackError(
        `Postgres processes of ${this.data} are still running (${this.clusterPids().join(' ')}); run make native-down`,
      );
    }
    // No process of the cluster is left, so lock files are stale. Postgres itself would refuse one whose PID is a
    // killed postmaster not yet reaped (a zombie), or a PID reused since.
    if (this.clusterPids().length === 0) {
      rmSync(join(this.data, 'postmaster.pid'), { force: true });
      rmSync(join(this.env.pg.socketDir, `.s.PGSQL.${this.env.pg.port}.lock`), { force: true });
    }
    writeFileSync(this.logPath, `=== postgres started by the native stack at ${new Date().toISOString()}\n`, {
      flag: 'a',
    });
    giveToPostgres(this.logPath);
    // pg_ctl forks the postmaster into a session of its own and waits until it accepts connections.
    const pgCtl = ['start', '-D', this.data, '-l', this.logPath, '-w', '-t', String(timeoutSeconds), '-s'];
    try {
      await asPostgres(join(this.bin, 'pg_ctl'), pgCtl, (timeoutSeconds + 10) * 1000);
    } catch (error) {
      throw new NativeStackError(
        `Postgres did not start (log: ${this.logPath}): ${String(error)}\n${tailOf(this.logPath)}`,
      );
    }
    const pid = Number(readFileSync(join(this.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    this.processes.record('postgres', pid, `-D ${this.data}`);
  }

  /**
   * Default: `pg_ctl stop -m fast` (what `docker stop` does with the image's STOPSIGNAL SIGINT). SIGKILL: the whole
   * cluster at once. SIGTERM/SIGINT/SIGQUIT go to the postmaster and are waited for; others (SIGSTOP, SIGCONT) are sent.
   */
  async stop(sig: Signal | undefined, timeoutSeconds: number): Promise<void> {
    const pid = this.processes.pidOf('postgres');
    if (pid === undefined) {
      if (this.clusterPids().length > 0) {
        // Processes of this cluster without our PID file (a postmaster started by hand, or orphaned backends).
        log(`postgres: processes of ${this.data} run without a PID file here; pg_ctl stop -m fast`);
        await asPostgres(join(this.bin, 'pg_ctl'), [
          'stop',
          '-D',
          this.data,
          '-m',
          'fast',
          '-w',
          '-t',
          '10',
          '-s',
        ]).catch(() => undefined);
        await this.killCluster();
      } else {
        log('postgres is not running');
      }
      this.processes.forget('postgres');
      return;
    }
    if (sig === undefined) {
      log(`postgres (pid ${pid}): pg_ctl stop -m fast`);
      const args = ['stop', '-D', this.data, '-m', 'fast', '-w', '-t', String(timeoutSeconds), '-s'];
      const stopped = await asPostgres(join(this.bin, 'pg_ctl'), args).then(
        () => this.waitClusterGone(10),
        () => false,
      );
      if (!stopped) {
        warn(`postgres (pid ${pid}) did not stop in time`);
        await this.killCluster();
      }
    } else if (sig === 'SIGKILL') {
      await this.killCluster();
    } else if (sig === 'SIGTERM' || sig === 'SIGINT' || sig === 'SIGQUIT') {
      log(`postgres (pid ${pid}): ${sig}, waiting up to ${timeoutSeconds}s`);
      process.kill(pid, sig);
      if (!(await this.waitClusterGone(timeoutSeconds))) {
        warn('postgres did not exit in time');
        await this.killCluster();
      }
    } else {
      log(`postgres (pid ${pid}): ${sig}`);
      process.kill(pid, sig);
      return;
    }
    this.processes.forget('postgres');
  }

  /**
   * The roles and the application database (db/roles.sql, idempotent; the passwords follow stack.env): `app` owns the
   * database and runs migrations, `app_rw` is what api and worker connect as.
   */
  async createRolesAndDatabase(): Promise<void> {
    const admin = `postgres://postgres@127.0.0.1:${this.env.pg.port}/postgres`;
    const variables = {
      owner: 'app',
      owner_password: this.env.pg.password,
      app_password: this.env.pg.appPassword,
      dbname: 'app',
    };
    const args = [admin, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', join(this.env.repo, 'db', 'roles.sql')];
    for (const [name, value] of Object.entries(variables)) args.push('-v', `${name}=${value}`);
    await new Promise<void>((resolve, reject) => {
      execFile('psql', args, (error, _stdout, stderr) =>
        error ? reject(new NativeStackError(`creating the roles and the app database: ${stderr}`)) : resolve(),
      );
    });
  }
}
