/**
 * Prometheus, the Postgres and Redis exporters and mtail (nginx's access log as metrics, observability/mtail) beside
 * a running native stack, from Debian's packages, with the
 * repository's configuration and rules (observability/prometheus/native.yml, rules/): what
 * `make native-up OBSERVABILITY=1` adds, and what the native tests of the rules and dashboards start.
 *
 *   node tools/stack/native/observability.ts up     start what is down (the stack of NATIVE_DIR must run); prints
 *                                                   Prometheus' URL
 *   node tools/stack/native/observability.ts down   stop exactly what `up` started (make native-down runs it first)
 *
 * Folder: <stack>/observability with ports.json, run/ and logs/ (processes.ts), and prometheus/: prometheus.yml and
 * rules/ linked from the repository (Prometheus reads relative paths from the link's folder) beside targets/, the
 * file_sd files written here from stack.env, one per job, each target labelled with its process name
 * (instance="api-1"). A stopped replica stays a target and turns `up` to 0, which is what the ApiReplicaDown alert
 * watches. nginx's statuses and cache outcomes come from its JSON access log through mtail (stub_status, which
 * prometheus-nginx-exporter reads, has neither).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { nativeDirFromEnvironment, repoRoot } from './cli.ts';
import { readStackEnv, type StackEnv } from './env.ts';
import { log, NativeStackError } from './log.ts';
import { freePorts } from './plan.ts';
import { ProcessTable, type LaunchSpec } from './processes.ts';

const NAMES = [
  'prometheus',
  'postgres-exporter',
  'redis-cache-exporter',
  'redis-queue-exporter',
  'nginx-mtail',
] as const;
type ObservabilityProcess = (typeof NAMES)[number];
type Ports = Record<ObservabilityProcess, number>;

interface FileSdGroup {
  targets: string[];
  labels: Record<string, string>;
}

export class NativeObservability {
  readonly dir: string;
  readonly stackDir: string;
  readonly repo: string;
  readonly processes: ProcessTable;
  /** Seconds to wait for each process to answer. */
  timeoutSeconds = 60;

  constructor(stackDir: string, repo: string) {
    this.dir = join(stackDir, 'observability');
    this.stackDir = stackDir;
    this.processes = new ProcessTable(this.dir, repo);
    this.repo = repo;
  }

  get prometheusUrl(): string {
    return `http://127.0.0.1:${this.ports().prometheus}`;
  }

  /** Starts whatever is down (ports kept across ups) and waits until each answers; returns Prometheus' URL. */
  async up(): Promise<string> {
    const env = readStackEnv(this.stackDir);
    const prometheusDir = join(this.dir, 'prometheus');
    for (const folder of ['run', 'logs', join('prometheus', 'targets'), join('prometheus', 'data')]) {
      mkdirSync(join(this.dir, folder), { recursive: true });
    }
    const ports = await this.choosePorts();
    const source = join(this.repo, 'observability', 'prometheus');
    for (const [link, target] of [
      ['prometheus.yml', 'native.yml'],
      ['rules', 'rules'],
    ] as const) {
      rmSync(join(prometheusDir, link), { force: true });
      symlinkSync(join(source, target), join(prometheusDir, link));
    }
    this.writeTargets(env, ports);
    const specs = this.launchSpecs(env, ports);
    for (const name of NAMES) {
      if (this.processes.pidOf(name) === undefined) this.processes.launch(name, specs[name]);
    }
    await this.waitReady(ports);
    log(`prometheus ready: http://127.0.0.1:${ports.prometheus} (rules: observability/prometheus/rules)`);
    return `http://127.0.0.1:${ports.prometheus}`;
  }

  /** Stops every process `up` started (a no-op when none runs). */
  async down(): Promise<void> {
    await Promise.all(this.processes.recordedNames().map((name) => this.processes.stop(name, 'SIGTERM', 20)));
  }

  /** The file_sd files: what Prometheus scrapes, from the stack's ports. */
  writeTargets(env: StackEnv, ports: Ports): void {
    const group = (address: string, instance: string): FileSdGroup => ({
      targets: [address],
      labels: { instance },
    });
    const files: Record<string, FileSdGroup[]> = {
      api: env.apis.map((api) => group(`127.0.0.1:${api.metricsPort}`, api.name)),
      worker: env.workers.map((worker) => group(`127.0.0.1:${worker.metricsPort}`, worker.name)),
      postgres: [group(`127.0.0.1:${ports['postgres-exporter']}`, 'postgres')],
      redis: [
        group(`127.0.0.1:${ports['redis-cache-exporter']}`, 'redis-cache'),
        group(`127.0.0.1:${ports['redis-queue-exporter']}`, 'redis-queue'),
      ],
      nginx: [group(`127.0.0.1:${ports['nginx-mtail']}`, 'nginx')],
      prometheus: [group(`127.0.0.1:${ports.prometheus}`, 'prometheus')],
    };
    for (const [job, groups] of Object.entries(files)) {
      // Written whole and renamed: Prometheus watches the file and must never read half of it.
      const path = join(this.dir, 'prometheus', 'targets', `${job}.json`);
      writeFileSync(`${path}.tmp`, `${JSON.stringify(groups, null, 2)}\n`);
      renameSync(`${path}.tmp`, path);
    }
  }

  private ports(): Ports {
    const path = join(this.dir, 'ports.json');
    if (!existsSync(path)) throw new NativeStackError(`no ${path}: run observability up first`);
    return JSON.parse(readFileSync(path, 'utf8')) as Ports;
  }

  private async choosePorts(): Promise<Ports> {
    const path = join(this.dir, 'ports.json');
    const previous = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Partial<Ports>) : {};
    const running = NAMES.filter((name) => this.processes.pidOf(name) !== undefined);
    // A running process keeps its port; the others get theirs again when it is still free.
    const chosen = await freePorts(NAMES.map((name) => (running.includes(name) ? undefined : previous[name])));
    const ports = Object.fromEntries(
      NAMES.map((name, index) => [name, running.includes(name) ? previous[name] : chosen[index]]),
    ) as Ports;
    writeFileSync(path, `${JSON.stringify(ports, null, 2)}\n`);
    return ports;
  }

  private launchSpecs(env: StackEnv, ports: Ports): Record<ObservabilityProcess, LaunchSpec> {
    const prometheusDir = join(this.dir, 'prometheus');
    const config = join(prometheusDir, 'prometheus.yml');
    const redisExporter = (redisUrl: string, port: number): LaunchSpec => ({
      command: 'prometheus-redis-exporter',
      args: [],
      // The address (with its password) by environment, so it is not on the command line.
      env: { REDIS_ADDR: redisUrl, REDIS_EXPORTER_WEB_LISTEN_ADDRESS: `127.0.0.1:${port}` },
      unset: [],
      match: 'prometheus-redis-exporter',
    });
    return {
      prometheus: {
        command: 'prometheus',
        args: [
          `--config.file=${config}`,
          `--storage.tsdb.path=${join(prometheusDir, 'data')}`,
          '--storage.tsdb.retention.time=2d',
          `--web.listen-address=127.0.0.1:${ports.prometheus}`,
        ],
        env: {},
        unset: [],
        match: config,
      },
      'postgres-exporter': {
        command: 'prometheus-postgres-exporter',
        args: [`--web.listen-address=127.0.0.1:${ports['postgres-exporter']}`],
        env: { DATA_SOURCE_NAME: withSslDisabled(env.databaseAdminUrl) },
        unset: [],
        match: 'prometheus-postgres-exporter',
      },
      'redis-cache-exporter': redisExporter(env.redisCache.url, ports['redis-cache-exporter']),
      'redis-queue-exporter': redisExporter(env.redisQueue.url, ports['redis-queue-exporter']),
      'nginx-mtail': {
        command: 'mtail',
        args: [
          '-progs',
          join(this.repo, 'observability', 'mtail'),
          '-logs',
          join(this.stackDir, 'logs', 'nginx.stdout.log'),
          '-address',
          '127.0.0.1',
          '-port',
          String(ports['nginx-mtail']),
        ],
        env: {},
        unset: [],
        match: 'mtail',
      },
    };
  }

  private async waitReady(ports: Ports): Promise<void> {
    const deadline = Date.now() + this.timeoutSeconds * 1000;
    const urlOf = (name: ObservabilityProcess) =>
      name === 'prometheus'
        ? `http://127.0.0.1:${ports.prometheus}/-/ready`
        : `http://127.0.0.1:${ports[name]}/metrics`;
    let pending: ObservabilityProcess[] = [...NAMES];
    while (pending.length > 0) {
      const answers = await Promise.all(pending.map((name) => answersOk(urlOf(name))));
      for (const name of pending) {
        if (this.processes.pidOf(name) === undefined) {
          throw new NativeStackError(`${name} exited while starting\n${this.processes.logTail(name)}`);
        }
      }
      pending = pending.filter((_name, index) => !answers[index]);
      if (pending.length > 0 && Date.now() > deadline) {
        throw new NativeStackError(`not answering after ${this.timeoutSeconds}s: ${pending.join(' ')}`);
      }
      if (pending.length > 0) await sleep(250);
    }
  }
}

/** postgres_exporter (lib/pq) asks for TLS unless told not to; the native cluster listens without it. */
function withSslDisabled(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('sslmode', 'disable');
  return parsed.toString();
}

/** True when the URL answers 2xx within 2 s (the body is discarded unread). */
const answersOk = (url: string): Promise<boolean> =>
  fetch(url, { signal: AbortSignal.timeout(2000) }).then(
    async (response) => {
      await response.body?.cancel();
      return response.ok;
    },
    () => false,
  );

if (import.meta.main) {
  const observability = new NativeObservability(nativeDirFromEnvironment(), repoRoot);
  const command = process.argv[2];
  try {
    if (command === 'up') console.log(await observability.up());
    else if (command === 'down') await observability.down();
    else {
      process.stderr.write('usage: node tools/stack/native/observability.ts up|down\n');
      process.exitCode = 2;
    }
  } catch (error) {
    process.stderr.write(`[native] ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
