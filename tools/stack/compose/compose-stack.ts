/**
 * A compose project on a Docker engine (`make up`) behind the Stack interface. The caller runs on the engine's host:
 * it reaches containers on the project's bridge network by their addresses, and nginx through its published loopback
 * port, as a user does.
 */
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Stack, StackAddresses, StopSignal } from '../stack.ts';
import { runCommand, type CommandOptions } from './commands.ts';

export interface ComposeProject {
  /** COMPOSE_PROJECT_NAME */
  name: string;
  /** The folder `make up` ran in (compose files and .env). */
  dir: string;
  /** The variables the project was started with (images, ports): every later compose call gets them too. */
  variables: Record<string, string>;
  nginxUrl: string;
  postgres: { user: string; password: string; database: string };
  tokenPepper: string;
  loadtestKey: string;
  /** Everything the set-up knew, for tests that read a setting (DEV tokens...). */
  env: Record<string, string>;
}

interface Containers {
  services: Map<string, string>;
  replicas: { name: string; address: string; index: number }[];
}

export class ComposeStack implements Stack {
  readonly mode = 'compose' as const;
  readonly project: ComposeProject;
  private containers: Containers | undefined;
  /** A stopped container has no address; it gets the one it had back when it starts again (or a new one, re-read). */
  private readonly lastKnown = new Map<string, string>();

  constructor(project: ComposeProject) {
    this.project = project;
  }

  addresses(): StackAddresses {
    this.containers ??= this.readContainers();
    const { services, replicas } = this.containers;
    const at = (service: string) => {
      const address = services.get(service);
      if (address === undefined) {
        throw new Error(
          `compose project has no running ${service} container (found: ${[...services.keys()].join(', ')})`,
        );
      }
      return address;
    };
    const { user, password, database } = this.project.postgres;
    const databaseUrl = `postgres://${user}:${password}@${at('postgres')}:5432/${database}`;
    return {
      env: this.project.env,
      databaseUrl,
      // The compose database user is the cluster's superuser (the image creates it so).
      databaseAdminUrl: databaseUrl,
      redisCacheUrl: `redis://${this.redisAuth('REDIS_CACHE_PASSWORD')}${at('redis')}:6379`,
      redisQueueUrl: `redis://${this.redisAuth('REDIS_QUEUE_PASSWORD')}${at('redis-queue')}:6379`,
      nginxUrl: this.project.nginxUrl,
      apiUrls: replicas.map((replica) => `http://${replica.address}:3000`),
      apiMetricsUrls: replicas.map((replica) => `http://${replica.address}:9100/metrics`),
      apiNames: replicas.map((replica) => replica.name),
      tokenPepper: this.project.tokenPepper,
      loadtestKey: this.project.loadtestKey,
    };
  }

  /** `:password@` of a Redis URL, from the password the set-up read from the compose file ('' when it has none). */
  private redisAuth(key: 'REDIS_CACHE_PASSWORD' | 'REDIS_QUEUE_PASSWORD'): string {
    const password = this.project.env[key];
    return password ? `:${encodeURIComponent(password)}@` : '';
  }

  /** After containers changed behind this object's back (`make scale`, `docker kill`): read their addresses again. */
  forgetAddresses(): void {
    this.containers = undefined;
  }

  async stop(name: string, signal: StopSignal = 'SIGTERM'): Promise<void> {
    // `docker stop` marks the container stopped on purpose, so a restart policy leaves it down.
    const grace = signal === 'SIGKILL' ? '0' : '30';
    await this.docker(['stop', '--signal', signal, '--time', grace, this.containerName(name)]);
  }

  async start(name: string): Promise<void> {
    await this.docker(['start', this.containerName(name)]);
    await this.waitHealthy(this.containerName(name));
    this.forgetAddresses();
  }

  async pause(name: string): Promise<void> {
    await this.docker(['pause', this.containerName(name)]);
  }

  async resume(name: string): Promise<void> {
    await this.docker(['unpause', this.containerName(name)]).catch(() => undefined);
  }

  async scale(count: number): Promise<void> {
    await this.compose(['up', '--detach', '--wait', '--no-recreate', '--scale', `api=${count}`, 'api']);
    this.forgetAddresses();
  }

  accessLog(): Promise<string> {
    return this.docker(['logs', this.containerName('nginx')], { stderr: false });
  }

  /** The docker CLI with the project's variables. */
  docker(args: string[], options: CommandOptions = {}): Promise<string> {
    return this.run('docker', args, options);
  }

  /** `docker compose` on the project, in the folder it was started from. */
  compose(args: string[]): Promise<string> {
    return this.docker(['compose', ...args], { cwd: this.project.dir });
  }

  /** Any command (make, docker...) with the project's variables, so it reaches this project. */
  run(command: string, args: string[], options: CommandOptions = {}): Promise<string> {
    return runCommand(command, args, { ...options, env: { ...this.project.variables, ...options.env } });
  }

  /** Compose names a service's containers `<project>-<service>-<n>`; a bare service name means its first one. */
  containerName(name: string): string {
    return /-\d+$/.test(name) ? `${this.project.name}-${name}` : `${this.project.name}-${name}-1`;
  }

  private async waitHealthy(container: string, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const format = '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}';
    for (;;) {
      const state = (await this.docker(['inspect', '--format', format, container])).trim();
      if (state === 'running healthy' || state === 'running') return;
      if (Date.now() > deadline) throw new Error(`${container} is "${state}" after ${timeoutMs} ms`);
      await sleep(250);
    }
  }

  /**
   * Containers of the project, running or stopped (a stopped replica keeps its name, so it can be started again):
   * one address per service, and the api replicas in index order.
   */
  private readContainers(): Containers {
    const format = '{{.ID}} {{.Label "com.docker.compose.service"}} {{.Label "com.docker.compose.container-number"}}';
    const filter = `label=com.docker.compose.project=${this.project.name}`;
    const lines = execFileSync('docker', ['ps', '--all', '--filter', filter, '--format', format], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ') as [string, string, string]);
    if (lines.length === 0) return { services: new Map(), replicas: [] };
    // The api is on two networks: its address on `edge` is the one nginx sends to (and logs as upstream_addr).
    const networks = '{{range $name, $net := .NetworkSettings.Networks}}{{$name}}={{$net.IPAddress}} {{end}}';
    const ips = execFileSync('docker', ['inspect', '--format', networks, ...lines.map(([id]) => id)], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .map((line) => {
        const pairs = line
          .trim()
          .split(' ')
          .map((pair) => pair.split('='));
        const edge = pairs.find(([name]) => name?.endsWith('_edge'));
        return (edge ?? pairs[0])?.[1] ?? '';
      });
    const services = new Map<string, string>();
    const replicas: Containers['replicas'] = [];
    lines.forEach(([, service, number], i) => {
      const key = `${service}-${number}`;
      const address = ips[i] || this.lastKnown.get(key) || '';
      if (address !== '') this.lastKnown.set(key, address);
      if (service === 'api') replicas.push({ name: `api-${number}`, address, index: Number(number) });
      else if (address !== '' && !services.has(service)) services.set(service, address);
    });
    replicas.sort((a, b) => a.index - b.index);
    return { services, replicas };
  }
}
