/**
 * Both Redis servers require a password (issue 11, "Secrets and privilege at rest"): a client that sends none, or a
 * wrong one, is refused every command by each server; the stack's own clients connect with it (the URL carries it),
 * so the stack keeps working. Native mode generates the passwords into its folder (stack.env, each server's
 * auth.conf); compose and swarm take them from secret files (docker-compose.yml, x-redis-entrypoint).
 */
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { describeStack, stack } from '../support/stack.js';

/** Sends raw RESP commands over a plain socket and returns one reply line per command. */
function rawReplies(url: URL, commands: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    let buffer = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error('no reply within 5 s')));
    socket.once('error', reject);
    socket.once('connect', () => socket.write(commands.map((command) => `${command}\r\n`).join('')));
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\r\n').slice(0, -1);
      if (lines.length >= commands.length) {
        socket.destroy();
        resolve(lines.slice(0, commands.length));
      }
    });
  });
}

const servers = [
  ['cache', () => stack().redisCacheUrl],
  ['queue', () => stack().redisQueueUrl],
] as const;

const clients: Redis[] = [];
afterAll(() => {
  for (const client of clients) client.disconnect();
});

describeStack('Redis requires a password', () => {
  for (const [name, url] of servers) {
    it(`when a client without the password or with a wrong one talks to the ${name} Redis, then every command is refused`, async () => {
      const server = new URL(url());
      expect(server.password, 'the stack gives its clients a URL with the password').not.toBe('');
      const anonymous = await rawReplies(server, [
        'PING',
        'SET redis-auth-probe 1',
        'KEYS *',
        'CONFIG GET requirepass',
      ]);
      for (const reply of anonymous) expect(reply).toMatch(/^-NOAUTH /);
      const wrong = await rawReplies(server, ['AUTH not-the-password', 'PING']);
      expect(wrong[0]).toMatch(/^-WRONGPASS /);
      expect(wrong[1]).toMatch(/^-NOAUTH /);
      // The same commands with the password: the refusals above were about the password, nothing else.
      const signedIn = await rawReplies(server, [`AUTH ${decodeURIComponent(server.password)}`, 'PING']);
      expect(signedIn).toEqual(['+OK', '+PONG']);
    });

    it(`when a client uses the stack's ${name} Redis URL, then it is served`, async () => {
      const client = new Redis(url(), { lazyConnect: true, maxRetriesPerRequest: 1 });
      clients.push(client);
      await client.connect();
      const key = `redis-auth-${name}-${process.pid}`;
      await client.set(key, 'served', 'EX', 60);
      expect(await client.get(key)).toBe('served');
      await client.del(key);
    });
  }

  it('when the api replicas report readiness, then each reaches both Redis servers with its password', async () => {
    for (const apiUrl of stack().apiUrls) {
      const body = (await (await fetch(`${apiUrl}/readyz`)).json()) as { checks: Record<string, boolean> };
      expect(body.checks, apiUrl).toEqual({ postgres: true, redisCache: true, redisQueue: true });
    }
  });
});
