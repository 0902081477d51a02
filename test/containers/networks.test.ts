/**
 * The edge cannot reach the data (issue 11, "one flat network"): nginx is on the `edge` network only, Postgres and
 * both Redis servers on `data` only, the api on both (docker-compose.yml). Seen from inside the nginx container (its
 * own tools, and a probe sharing its network namespace) the data services' names do not resolve and their addresses
 * do not answer; from inside an api container both work. Each Redis also refuses a client without its password.
 */
import net from 'node:net';
import { expect, inject, it } from 'vitest';
import { describeStack, docker, stack } from '../support/stack.js';

const DATA_SERVICES = ['postgres', 'redis', 'redis-queue'];

const container = (service: string) => `${inject('stackEnv').COMPOSE_PROJECT_NAME}-${service}-1`;

/** The exit code of a command run in a container (0, or the code the failure names). */
const execStatus = (service: string, args: string[]): Promise<number> =>
  docker(['exec', container(service), ...args]).then(
    () => 0,
    (error: Error) => Number(/exited (\d+)/.exec(error.message)?.[1] ?? -1),
  );

/** The data services' addresses on their network, as the test (on the engine's host) reaches them. */
const dataAddresses = () => [
  { host: new URL(stack().databaseUrl).hostname, port: 5432 },
  { host: new URL(stack().redisCacheUrl).hostname, port: 6379 },
  { host: new URL(stack().redisQueueUrl).hostname, port: 6379 },
];

type Target = { name: string } | { host: string; port: number };

// Runs in the api image, in another container's network namespace: resolves names, opens TCP connections.
const PROBE = `
const dns = require('node:dns'), net = require('node:net');
const probe = (t) => new Promise((done) => {
  if (t.name) return dns.lookup(t.name, (error) => done(error ? 'unresolved' : 'resolved'));
  const socket = net.connect({ host: t.host, port: t.port });
  const end = (result) => { socket.destroy(); done(result); };
  socket.setTimeout(3000, () => end('no answer'));
  socket.once('connect', () => end('connected'));
  socket.once('error', (error) => end(error.code));
});
Promise.all(JSON.parse(process.argv[1]).map(probe)).then((results) => console.log(JSON.stringify(results)));
`;

/** What each target gives from inside `service`'s network namespace (a throwaway container of the api image). */
async function probeFrom(service: string, targets: Target[]): Promise<string[]> {
  const tag = (JSON.parse(inject('stackEnv').COMPOSE_ENV ?? '{}') as { IMAGE_TAG?: string }).IMAGE_TAG ?? 'dev';
  const output = await docker(
    [
      'run',
      '--rm',
      '--network',
      `container:${container(service)}`,
      '--entrypoint',
      'node',
      `node-stack/api:${tag}`,
      '-e',
      PROBE,
      JSON.stringify(targets),
    ],
    { stderr: false },
  );
  return JSON.parse(output.trim().split('\n').at(-1) ?? '[]') as string[];
}

/** The first reply line of a Redis server to one command sent without signing in. */
function redisReply(host: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port: 6379 });
    let reply = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no reply from ${host} within 5 s`)));
    socket.once('error', reject);
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.split('\r\n')[0] ?? '');
      }
    });
  });
}

describeStack('edge and data networks', () => {
  it('when nginx looks up the data services with its own tools, then their names do not resolve, while the api does', async () => {
    for (const name of DATA_SERVICES) expect(await execStatus('nginx', ['getent', 'hosts', name]), name).not.toBe(0);
    expect(await execStatus('nginx', ['getent', 'hosts', 'api'])).toBe(0);
    for (const name of DATA_SERVICES) expect(await execStatus('api', ['getent', 'hosts', name]), name).toBe(0);
  });

  it("when a probe in nginx's network namespace resolves and connects to the data services, then nothing answers; from an api container everything does", async () => {
    const names = DATA_SERVICES.map((name) => ({ name }));
    const fromNginx = await probeFrom('nginx', [...names, ...dataAddresses(), { name: 'api' }]);
    console.log(`from nginx: ${DATA_SERVICES.join(', ')}, their addresses, api: ${fromNginx.join(', ')}`);
    expect(fromNginx.slice(0, 3)).toEqual(['unresolved', 'unresolved', 'unresolved']);
    for (const result of fromNginx.slice(3, 6)) expect(result).not.toBe('connected');
    expect(fromNginx[6], 'nginx resolves its own upstream').toBe('resolved');

    const fromApi = await probeFrom('api', [...names, ...dataAddresses()]);
    expect(fromApi).toEqual(['resolved', 'resolved', 'resolved', 'connected', 'connected', 'connected']);
  });

  it('when a client without the password talks to either Redis, then it is refused; with the URL the stack hands out, it is served', async () => {
    for (const url of [stack().redisCacheUrl, stack().redisQueueUrl]) {
      const { hostname, password } = new URL(url);
      expect(password, url).not.toBe('');
      expect(await redisReply(hostname, 'PING')).toMatch(/^-NOAUTH /);
      expect(await redisReply(hostname, `AUTH ${decodeURIComponent(password)}`)).toBe('+OK');
    }
  });
});
