/**
 * How the swarm-nodes tests reach what their global set-up started (global-setup.ts): the stack deployed on the
 * three-engine swarm, the cluster's nodes, and where each task runs.
 */
import { inject } from 'vitest';
import type { Cluster, ClusterNode } from '../../../tools/stack/swarm/nodes.ts';
import { SwarmStack, type SwarmDeployment } from '../../../tools/stack/swarm/swarm-stack.ts';
import { describeUnless } from '../../swarm/support/swarm.js';

/** describe(), or describe.skip() with the reason when the set-up could not build the cluster here. */
export function describeNodes(name: string, body: () => void): void {
  describeUnless(inject('nodesEnv').SKIP_REASON, name, body);
}

let deployed: SwarmStack | undefined;

export function stack(): SwarmStack {
  deployed ??= new SwarmStack(JSON.parse(inject('nodesEnv').DEPLOYMENT ?? 'null') as SwarmDeployment);
  return deployed;
}

export const cluster = (): Cluster => JSON.parse(inject('nodesEnv').CLUSTER ?? 'null') as Cluster;

/** The node a Swarm node ID names. */
export function nodeOf(id: string): ClusterNode {
  const node = cluster().nodes.find((candidate) => candidate.id === id);
  if (node === undefined) throw new Error(`no node ${id} in this cluster`);
  return node;
}

/** The key the set-up gave nginx's load-test allowance: the test traffic is not rate limited. */
export const loadtestHeaders = (): Record<string, string> => ({
  'x-loadtest-key': inject('nodesEnv').LOADTEST_KEY ?? '',
});

/** Names of a service's running tasks' nodes (n1, n2, ...), one per task. */
export async function nodesOf(service: string): Promise<string[]> {
  return (await stack().runningTasks(service)).map((task) => nodeOf(task.nodeId).name);
}

/**
 * Each running api task's address as nginx writes it in upstream_addr (`<address>:3000`): its address on the overlay
 * network it shares with nginx. From the tasks' network attachments on the manager, wherever the tasks run.
 */
export async function apiAddressesSeenByNginx(): Promise<string[]> {
  const attachments = async (taskId: string) => {
    const format = '{{range .NetworksAttachments}}{{.Network.Spec.Name}}={{index .Addresses 0}} {{end}}';
    const out = await stack().docker(['inspect', '--format', format, taskId], { stderr: false });
    return new Map(
      out
        .trim()
        .split(' ')
        .map((pair) => pair.split('=') as [string, string]),
    );
  };
  const [nginx] = await stack().runningTasks('nginx');
  if (nginx === undefined) throw new Error('nginx runs nowhere');
  const nginxNetworks = [...(await attachments(nginx.id)).keys()].filter((name) => name !== 'ingress');
  const addresses: string[] = [];
  for (const task of await stack().runningTasks('api')) {
    const byNetwork = await attachments(task.id);
    const shared = nginxNetworks.map((name) => byNetwork.get(name)).find((address) => address !== undefined);
    if (shared === undefined) throw new Error(`api task ${task.id} shares no network with nginx`);
    addresses.push(`${shared.split('/')[0]}:3000`);
  }
  return addresses;
}
