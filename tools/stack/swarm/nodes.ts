/**
 * A swarm of several Docker engines on one machine, for trying docker-stack.yml on more than one node
 * (test/swarm-nodes; docs/swarm.md, "Several nodes on one machine"):
 *
 *   nodestack-lan     a network namespace holding the bridge `nsbr0`: the nodes' LAN (10.213.0.0/24). Its own
 *                     namespace, so no packet between nodes meets the host's firewall (the engine on the host sets
 *                     FORWARD to DROP, and bridged packets pass it where br_netfilter is loaded).
 *   nodestack-host    a veth from the host into the bridge, 10.213.0.1: the registry listens there, and the host's
 *                     clients (the tests) reach the nodes from it.
 *   nodestack-n1..nN  one namespace per node, eth0 = 10.213.0.1<i>, each running its own `dockerd` (data root, exec
 *                     root, pid file and socket under the cluster's folder; its own containerd), with that
 *                     namespace's sysfs and a hostname of its own; n1 is the manager (`swarm init`), the others join
 *                     as workers. Overlay networks span them over VXLAN on the bridge.
 *   registry          CNCF Distribution (scripts/setup-registry.sh builds .tools/bin/registry) on 10.213.0.1:5000,
 *                     plain HTTP: every node lists it in `insecure-registries`.
 *
 * Only what `start` created is stopped or deleted: the engines and the registry by their recorded PIDs (start time
 * and command line checked, processes.ts), the namespaces by the names recorded in cluster.json, the nodes'
 * cgroup parents (empty folders). The host's own engine (/var/run/docker.sock) is never touched.
 *
 *   node tools/stack/swarm/nodes.ts up | down | status      (NODES_DIR [/tmp/nodestack-nodes], NODES [3])
 *   node tools/stack/swarm/nodes.ts push IMAGE...           copy images of the host's engine into the registry
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand } from '../compose/commands.ts';
import { repoRoot } from '../native/cli.ts';
import { ProcessTable, tailOf } from '../native/processes.ts';
import { copyImages, writeRegistryConfig } from './registry.ts';

export const LAN_NAMESPACE = 'nodestack-lan';
const BRIDGE = 'nsbr0';
const HOST_LINK = 'nodestack-host';
const SUBNET = '10.213.0';
/** Overlay networks come from here (Swarm's default pool, 10.0.0.0/8, would contain the LAN). */
const OVERLAY_POOL = '10.214.0.0/16';
const REGISTRY_PORT = 5000;

export interface ClusterNode {
  /** n1, n2, ... */
  name: string;
  namespace: string;
  address: string;
  /** unix:///.../docker.sock: DOCKER_HOST for this node's engine. */
  dockerHost: string;
  /** Its Swarm node ID. */
  id: string;
  role: 'manager' | 'worker';
}

export interface Cluster {
  dir: string;
  /** The host's address on the LAN (the registry's, and the source of the host's requests). */
  hostAddress: string;
  /** host:port of the registry, as image names use it. */
  registry: string;
  nodes: ClusterNode[];
}

/** What start created, written as it goes, so that stop undoes exactly that even after a failed start. */
interface Created {
  namespaces: string[];
  cgroupParents: string[];
  cluster?: Cluster;
}

export const defaultClusterDir = (): string => process.env.NODES_DIR ?? join(tmpdir(), 'nodestack-nodes');
const log = (message: string): void => void process.stderr.write(`[nodes] ${message}\n`);
const statePath = (dir: string) => join(dir, 'cluster.json');
const table = (dir: string) => new ProcessTable(dir, repoRoot);

function readCreated(dir: string): Created | undefined {
  try {
    return JSON.parse(readFileSync(statePath(dir), 'utf8')) as Created;
  } catch {
    return undefined;
  }
}

/** Runs a command as this process (root); throws with its stderr. */
function sh(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${(result.stderr || result.stdout).trim()}`);
  return result.stdout;
}

/** The cluster running from `dir`, or undefined. */
export function readCluster(dir = defaultClusterDir()): Cluster | undefined {
  return readCreated(dir)?.cluster;
}

/**
 * Starts `count` engines in namespaces of their own, a registry, and a swarm of them; returns when every node is
 * Ready. A previous cluster in `dir` is stopped first. Throws (after stopping what it started) on any failure.
 */
export async function startCluster(options: { dir?: string; count?: number; registryBinary?: string } = {}) {
  const dir = options.dir ?? defaultClusterDir();
  const count = options.count ?? 3;
  const registryBinary = options.registryBinary ?? join(repoRoot, '.tools/bin/registry');
  if (!existsSync(registryBinary)) throw new Error(`${registryBinary} is missing: bash scripts/setup-registry.sh`);
  if (readCreated(dir) !== undefined) await stopCluster(dir);
  // A failed start keeps its logs (and engine folders): a new cluster starts empty.
  rmSync(dir, { recursive: true, force: true });
  const taken = sh('ip', ['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0]);
  const ours = [LAN_NAMESPACE, ...Array.from({ length: count }, (_, i) => `nodestack-n${i + 1}`)];
  const clash = ours.filter((name) => taken.includes(name));
  if (clash.length > 0) throw new Error(`network namespaces ${clash.join(', ')} exist already (another cluster?)`);

  mkdirSync(join(dir, 'run'), { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const created: Created = { namespaces: [], cgroupParents: [] };
  const save = () => writeFileSync(statePath(dir), JSON.stringify(created, null, 2));
  save();
  try {
    createLan(created, save);
    const hostAddress = `${SUBNET}.1`;
    const registry = `${hostAddress}:${REGISTRY_PORT}`;
    startRegistry(dir, registryBinary, registry);
    const nodes: ClusterNode[] = [];
    for (let i = 1; i <= count; i += 1) {
      nodes.push(createNode(dir, i, registry, created, save));
    }
    await Promise.all(nodes.map((node) => waitForEngine(dir, node)));
    await waitForRegistry(registry);
    await formSwarm(nodes);
    created.cluster = { dir, hostAddress, registry, nodes };
    save();
    return created.cluster;
  } catch (error) {
    await stopCluster(dir, { keepDir: true });
    throw error;
  }
}

function createLan(created: Created, save: () => void): void {
  sh('ip', ['netns', 'add', LAN_NAMESPACE]);
  created.namespaces.push(LAN_NAMESPACE);
  save();
  sh('ip', ['-n', LAN_NAMESPACE, 'link', 'set', 'lo', 'up']);
  sh('ip', ['-n', LAN_NAMESPACE, 'link', 'add', BRIDGE, 'type', 'bridge']);
  sh('ip', ['-n', LAN_NAMESPACE, 'link', 'set', BRIDGE, 'up']);
  // The host's end stays in the host's namespace; deleting the LAN namespace deletes the pair.
  sh('ip', ['link', 'add', HOST_LINK, 'type', 'veth', 'peer', 'name', 'uplink', 'netns', LAN_NAMESPACE]);
  sh('ip', ['-n', LAN_NAMESPACE, 'link', 'set', 'uplink', 'master', BRIDGE, 'up']);
  sh('ip', ['addr', 'add', `${SUBNET}.1/24`, 'dev', HOST_LINK]);
  sh('ip', ['link', 'set', HOST_LINK, 'up']);
}

function startRegistry(dir: string, binary: string, address: string): void {
  const config = join(dir, 'registry.yml');
  writeRegistryConfig(config, address, join(dir, 'registry'));
  table(dir).launch('registry', { command: binary, args: ['serve', config], env: {}, unset: [], match: config });
}

/** The namespace, its link into the bridge, the engine's settings, and the engine itself (not yet ready). */
function createNode(dir: string, index: number, registry: string, created: Created, save: () => void): ClusterNode {
  const name = `n${index}`;
  const namespace = `nodestack-${name}`;
  const address = `${SUBNET}.${10 + index}`;
  sh('ip', ['netns', 'add', namespace]);
  created.namespaces.push(namespace);
  created.cgroupParents.push(namespace);
  save();
  sh('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
  sh('ip', ['-n', LAN_NAMESPACE, 'link', 'add', name, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace]);
  sh('ip', ['-n', LAN_NAMESPACE, 'link', 'set', name, 'master', BRIDGE, 'up']);
  sh('ip', ['-n', namespace, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
  sh('ip', ['-n', namespace, 'link', 'set', 'eth0', 'up']);

  const home = join(dir, name);
  mkdirSync(home, { recursive: true });
  // Its own file: dockerd would otherwise read /etc/docker/daemon.json, the host engine's.
  const settings = { 'insecure-registries': [registry], 'shutdown-timeout': 10, 'log-level': 'warn' };
  writeFileSync(join(home, 'daemon.json'), JSON.stringify(settings, null, 2));
  // nsenter: this node's network namespace only. unshare: a mount namespace in which /sys is that network
  // namespace's sysfs (`ip netns exec` does the same but loses the cgroup mounts under /sys/fs/cgroup: "Devices
  // cgroup isn't mounted"; they are moved back in), and a hostname of its own for `docker node ls`.
  const script = [
    'set -e',
    'mkdir -p "$1/cgroup"',
    'mount --rbind /sys/fs/cgroup "$1/cgroup"',
    'mount -t sysfs sysfs /sys',
    'mount --rbind "$1/cgroup" /sys/fs/cgroup',
    'umount -l "$1/cgroup"',
    'hostname "$2"',
    'exec dockerd --config-file "$1/daemon.json" --data-root "$1/data" --exec-root "$1/exec" \\',
    '  --pidfile "$1/dockerd.pid" --host "unix://$1/docker.sock" --cgroup-parent "$2"',
  ].join('\n');
  table(dir).launch(name, {
    command: 'nsenter',
    args: [
      `--net=/run/netns/${namespace}`,
      'unshare',
      '--mount',
      '--uts',
      '--propagation',
      'slave',
      'sh',
      '-c',
      script,
      'node-engine',
      home,
      namespace,
    ],
    env: {},
    unset: ['DOCKER_HOST'],
    // The folder is in nsenter's arguments and, after the execs, in dockerd's.
    match: home,
  });
  const role = index === 1 ? 'manager' : 'worker';
  return { name, namespace, address, dockerHost: `unix://${home}/docker.sock`, id: '', role };
}

async function waitForEngine(dir: string, node: ClusterNode, seconds = 60): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (table(dir).pidOf(node.name) === undefined) break;
    const ok = await docker(node, ['version', '--format', '{{.Server.Version}}']).then(
      () => true,
      () => false,
    );
    if (ok) return;
    await sleep(250);
  }
  throw new Error(
    `the engine of ${node.name} did not answer within ${seconds} s\n${tailOf(table(dir).logFile(node.name))}`,
  );
}

async function waitForRegistry(registry: string, seconds = 20): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://${registry}/v2/`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await sleep(250);
  }
  throw new Error(`the registry did not answer on ${registry} within ${seconds} s`);
}

/** `swarm init` on the first node, the others join it as workers; fills in each node's ID. */
async function formSwarm(nodes: ClusterNode[]): Promise<void> {
  const [manager, ...workers] = nodes;
  if (manager === undefined) throw new Error('a swarm needs a node');
  const listen = (node: ClusterNode) => ['--advertise-addr', node.address, '--listen-addr', `${node.address}:2377`];
  await docker(manager, ['swarm', 'init', ...listen(manager), '--default-addr-pool', OVERLAY_POOL]);
  const token = (await docker(manager, ['swarm', 'join-token', '--quiet', 'worker'])).trim();
  for (const worker of workers) {
    await docker(worker, ['swarm', 'join', '--token', token, ...listen(worker), `${manager.address}:2377`]);
  }
  for (const node of nodes) node.id = (await docker(node, ['info', '--format', '{{.Swarm.NodeID}}'])).trim();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const states = (await docker(manager, ['node', 'ls', '--format', '{{.Status}}'])).split('\n').filter(Boolean);
    if (states.length === nodes.length && states.every((state) => state === 'Ready')) return;
    if (Date.now() > deadline) throw new Error(`swarm nodes not Ready after 30 s: ${states.join(', ')}`);
    await sleep(500);
  }
}

/** The docker CLI against one node's engine. */
export function docker(node: Pick<ClusterNode, 'dockerHost'>, args: string[]): Promise<string> {
  return runCommand('docker', args, { env: { DOCKER_HOST: node.dockerHost }, stderr: false });
}

/**
 * Stops what startCluster recorded in `dir`: the engines (SIGTERM: they stop their containers, at most
 * `shutdown-timeout` each, then their containerd), the registry, the namespaces, the nodes' cgroup parents; then
 * deletes the folder unless `keepDir` (a failed start keeps its logs).
 */
export async function stopCluster(dir = defaultClusterDir(), options: { keepDir?: boolean } = {}): Promise<void> {
  const created = readCreated(dir);
  if (created === undefined) return;
  // Containers first, at once: an engine stopping with them running gives each its stop grace period (30 s for
  // the api). Swarm's restart delay (5 s) leaves no time for replacements before the engines are gone.
  await Promise.all((created.cluster?.nodes ?? []).map((node) => killContainers(node)));
  const processes = table(dir);
  const names = processes.recordedNames();
  await Promise.all(names.filter((name) => name !== 'registry').map((name) => processes.stop(name, 'SIGTERM', 40)));
  if (names.includes('registry')) await processes.stop('registry', 'SIGTERM', 10);
  for (const namespace of [...created.namespaces].reverse()) {
    spawnSync('ip', ['netns', 'delete', namespace]);
  }
  for (const parent of created.cgroupParents) removeCgroupParent(parent);
  if (options.keepDir === true) {
    rmSync(statePath(dir), { force: true });
    log(`stopped; logs kept in ${join(dir, 'logs')}`);
  } else rmSync(dir, { recursive: true, force: true });
}

async function killContainers(node: ClusterNode): Promise<void> {
  const running = await docker(node, ['ps', '--quiet']).catch(() => '');
  const ids = running.split('\n').filter(Boolean);
  if (ids.length > 0) await docker(node, ['kill', ...ids]).catch(() => undefined);
}

/** The empty cgroup folders `--cgroup-parent` left under each controller (rmdir: never one that still has tasks). */
function removeCgroupParent(parent: string): void {
  const root = '/sys/fs/cgroup';
  let controllers: string[];
  try {
    controllers = readdirSync(root);
  } catch {
    return;
  }
  for (const controller of ['', ...controllers]) {
    const path = join(root, controller, parent);
    if (!existsSync(path)) continue;
    try {
      rmdirSync(path);
    } catch (error) {
      log(`kept ${path}: ${(error as Error).message}`);
    }
  }
}

async function main(command: string | undefined, args: string[]): Promise<void> {
  const dir = defaultClusterDir();
  if (command === 'up') {
    const cluster = await startCluster({ dir, count: Number(process.env.NODES ?? 3) });
    for (const node of cluster.nodes)
      console.log(`${node.name} ${node.role} ${node.address} DOCKER_HOST=${node.dockerHost}`);
    console.log(`registry ${cluster.registry}`);
  } else if (command === 'down') {
    await stopCluster(dir);
  } else if (command === 'push') {
    const cluster = readCluster(dir);
    if (cluster === undefined) throw new Error(`no cluster in ${dir}`);
    const work = join(dir, 'push');
    mkdirSync(work, { recursive: true });
    try {
      const bytes = await copyImages(args, `http://${cluster.registry}`, work);
      log(`${args.length} image(s) in ${cluster.registry} (${(bytes / 1e6).toFixed(0)} MB sent)`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  } else if (command === 'status') {
    const cluster = readCluster(dir);
    if (cluster === undefined) throw new Error(`no cluster in ${dir}`);
    process.stdout.write(await docker(cluster.nodes[0] as ClusterNode, ['node', 'ls']));
  } else {
    throw new Error('usage: node tools/stack/swarm/nodes.ts up | down | status | push IMAGE...');
  }
}

if (import.meta.filename === process.argv[1]) {
  main(process.argv[2], process.argv.slice(3)).catch((error: unknown) => {
    process.stderr.write(`[nodes] ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
