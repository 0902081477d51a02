/**
 * A Docker Swarm stack (docker-stack.yml, `make stack-deploy`) as tools and tests see it: its services and their
 * tasks, and the operator's actions on them (deploy, scale, update, kill a task's container, remove).
 *
 * Not an implementation of the Stack interface (../stack.ts), on purpose: Swarm replaces a stopped task at once, so
 * "stop and keep it down until start" has no meaning here, and the stack's overlay network is not reachable from
 * the host, so there are no database or replica addresses to hand out. What the caller reaches is nginx's published
 * port on this node; everything else goes through `docker exec` in a task's container (psql in the postgres task).
 * The caller runs on the node that runs the tasks (a single-node swarm, as the swarm tests use), or reaches every
 * node's engine (`nodeHosts`: the several engines of nodes.ts), where a task's container is handled on its node.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand, type CommandOptions } from '../compose/commands.ts';

export interface SwarmDeployment {
  /** STACK: the stack's name; its services are `<name>_<service>`, its secrets and configs `<name>_*`. */
  name: string;
  /** The folder `make stack-deploy` runs in (docker-stack.yml, secrets/). */
  dir: string;
  /** The variables the stack was deployed with (images, tag, port, replicas): every later make call gets them. */
  variables: Record<string, string>;
  /** nginx's published port on this node. */
  nginxUrl: string;
  postgres: { user: string; database: string };
  /** DOCKER_HOST of the swarm's manager (make and the swarm commands use it); unset: the environment's engine. */
  dockerHost?: string;
  /** Swarm node ID -> DOCKER_HOST of that node's engine, for containers on other nodes; unset: the manager's. */
  nodeHosts?: Record<string, string>;
}

export interface Task {
  id: string;
  /** The task's container on this node ('' before it has one). */
  containerId: string;
  /** Swarm's task state: new, pending, preparing, starting, running, complete, failed, shutdown, ... */
  state: string;
  desiredState: string;
  image: string;
  /** The Swarm node it was scheduled on ('' before it was). */
  nodeId: string;
}

/** A service's update (or rollback) progress: '' when it never had one. */
export type UpdateState =
  '' | 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';

export class SwarmStack {
  readonly deployment: SwarmDeployment;

  constructor(deployment: SwarmDeployment) {
    this.deployment = deployment;
  }

  get nginxUrl(): string {
    return this.deployment.nginxUrl;
  }

  /** `make stack-deploy` with the deployment's variables (and `env` on top): waits until every service converged. */
  deploy(env: Record<string, string> = {}): Promise<string> {
    return this.make(['stack-deploy'], env);
  }

  /** `make stack-rm`, then what the stack leaves behind on purpose (volumes, its external secrets, old configs). */
  async remove(): Promise<void> {
    await this.make(['stack-rm']).catch(() => undefined);
    const prefix = `${this.deployment.name}_`;
    for (const kind of ['secret', 'config', 'volume'] as const) {
      const names = (await this.docker([kind, 'ls', '--format', '{{.Name}}'], { stderr: false }))
        .split('\n')
        .filter((name) => name.startsWith(prefix));
      // A volume is released once its task's container has stopped (up to its stop_grace_period after `stack rm`).
      for (let attempt = 0; names.length > 0 && attempt < 120; attempt += 1) {
        const removed = await this.docker([kind, 'rm', ...names]).then(
          () => true,
          () => false,
        );
        if (removed) break;
        await sleep(500);
      }
    }
  }

  /** `<stack>_<service>` */
  serviceName(service: string): string {
    return `${this.deployment.name}_${service}`;
  }

  /** The service's tasks that Swarm wants running (or, for a job, that it ran), newest first. */
  async tasks(service: string, which: 'running' | 'all' = 'running'): Promise<Task[]> {
    const filter = which === 'running' ? ['--filter', 'desired-state=running'] : [];
    const ids = (
      await this.docker(['service', 'ps', '--quiet', '--no-trunc', ...filter, this.serviceName(service)], {
        stderr: false,
      })
    )
      .split('\n')
      .filter(Boolean);
    if (ids.length === 0) return [];
    const format =
      // A task that has no container yet has no ContainerStatus.
      '{{.ID}} {{.Status.State}} {{.DesiredState}} {{.Spec.ContainerSpec.Image}} {{.NodeID}} ' +
      '{{if .Status.ContainerStatus}}{{.Status.ContainerStatus.ContainerID}}{{end}}';
    return (await this.docker(['inspect', '--format', format, ...ids], { stderr: false }))
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [id = '', state = '', desiredState = '', image = '', nodeId = '', containerId = ''] = line.split(' ');
        return { id, state, desiredState, image: image.split('@')[0] ?? image, nodeId, containerId };
      });
  }

  /** The running containers of a service (IDs on their nodes' engines). */
  async containers(service: string): Promise<string[]> {
    return (await this.runningTasks(service)).map((task) => task.containerId);
  }

  /** The service's tasks whose container runs. */
  async runningTasks(service: string): Promise<Task[]> {
    return (await this.tasks(service)).filter((task) => task.state === 'running' && task.containerId !== '');
  }

  /** Runs a command in the first running container of a service; resolves with its stdout. */
  async exec(service: string, args: string[], env: Record<string, string> = {}): Promise<string> {
    const [task] = await this.runningTasks(service);
    if (task === undefined) throw new Error(`${this.serviceName(service)} has no running container`);
    const envArgs = Object.entries(env).flatMap(([key, value]) => ['--env', `${key}=${value}`]);
    return this.dockerOn(task, ['exec', ...envArgs, task.containerId, ...args]);
  }

  /** One SQL statement through psql in the postgres task (unaligned, tuples only): the rows, one per line. */
  async psql(sql: string): Promise<string[]> {
    const { user, database } = this.deployment.postgres;
    const out = await this.exec('postgres', ['psql', '-U', user, '-d', database, '-v', 'ON_ERROR_STOP=1', '-Atc', sql]);
    return out.split('\n').filter(Boolean);
  }

  /** `docker service scale`: returns once the service has exactly `replicas` running tasks. */
  async scale(service: string, replicas: number): Promise<void> {
    await this.docker(['service', 'scale', '--detach', `${this.serviceName(service)}=${replicas}`]);
    await this.waitConverged(service, replicas);
  }

  /** Starts `docker service update --image` (detached); follow it with waitForUpdate. */
  async updateImage(service: string, image: string): Promise<void> {
    await this.docker(['service', 'update', '--detach', '--image', image, this.serviceName(service)]);
  }

  async updateState(service: string): Promise<UpdateState> {
    const format = '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}';
    return (await this.docker(['service', 'inspect', '--format', format, this.serviceName(service)])).trim() as
      UpdateState | '';
  }

  /** Waits until the service's update or rollback has ended; returns how it ended. */
  async waitForUpdate(service: string, timeoutMs = 240_000): Promise<UpdateState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await this.updateState(service);
      if (
        state === 'completed' ||
        state === 'rollback_completed' ||
        state === 'paused' ||
        state === 'rollback_paused'
      ) {
        return state;
      }
      if (Date.now() > deadline)
        throw new Error(`${this.serviceName(service)}: update still ${state} after ${timeoutMs} ms`);
      await sleep(500);
    }
  }

  /** The image the service's spec names now (without the digest). */
  async image(service: string): Promise<string> {
    const format = '{{.Spec.TaskTemplate.ContainerSpec.Image}}';
    return (
      (await this.docker(['service', 'inspect', '--format', format, this.serviceName(service)])).trim().split('@')[0] ??
      ''
    );
  }

  /** Waits until exactly `replicas` tasks of the service run (healthy, where it has a health check). */
  async waitConverged(service: string, replicas: number, timeoutMs = 180_000): Promise<Task[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const tasks = await this.tasks(service);
      const running = tasks.filter((task) => task.state === 'running');
      if (running.length === replicas && tasks.length === replicas && (await this.healthy(running))) return running;
      if (Date.now() > deadline) {
        const states = tasks.map((task) => task.state).join(', ');
        throw new Error(`${this.serviceName(service)}: [${states}] after ${timeoutMs} ms, wanted ${replicas} running`);
      }
      await sleep(500);
    }
  }

  /** SIGKILL to a task's container, as a crash would; Swarm's restart policy then starts a new task. */
  kill(task: Task): Promise<string> {
    return this.dockerOn(task, ['kill', task.containerId]);
  }

  /** nginx's JSON access log so far (the stdout of its first running container). */
  async accessLog(): Promise<string> {
    const [task] = await this.runningTasks('nginx');
    if (task === undefined) throw new Error(`${this.serviceName('nginx')} has no running container`);
    return this.dockerOn(task, ['logs', task.containerId]);
  }

  /** Any make target in the deployment's folder, with its variables. */
  make(args: string[], env: Record<string, string> = {}): Promise<string> {
    return runCommand('make', ['--no-print-directory', ...args], {
      cwd: this.deployment.dir,
      env: { ...this.deployment.variables, STACK: this.deployment.name, ...this.engine(), ...env },
    });
  }

  /** The docker CLI against the manager's engine. */
  docker(args: string[], options: CommandOptions = {}): Promise<string> {
    return runCommand('docker', args, { ...options, env: { ...this.engine(), ...options.env } });
  }

  /** The docker CLI against the engine of the node a task runs on (its stdout). */
  dockerOn(task: Pick<Task, 'nodeId'>, args: string[]): Promise<string> {
    const host = this.deployment.nodeHosts?.[task.nodeId];
    if (this.deployment.nodeHosts !== undefined && host === undefined)
      throw new Error(`no engine for node ${task.nodeId}`);
    return runCommand('docker', args, {
      env: host === undefined ? this.engine() : { DOCKER_HOST: host },
      stderr: false,
    });
  }

  private engine(): Record<string, string> {
    return this.deployment.dockerHost === undefined ? {} : { DOCKER_HOST: this.deployment.dockerHost };
  }

  private async healthy(tasks: Task[]): Promise<boolean> {
    if (tasks.length === 0) return true;
    const format = '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}';
    const states = await Promise.all(
      tasks.map(async (task) => (await this.dockerOn(task, ['inspect', '--format', format, task.containerId])).trim()),
    );
    return states.every((state) => state === 'healthy' || state === 'none');
  }
}
