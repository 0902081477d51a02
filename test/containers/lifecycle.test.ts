/**
 * The stack's data over its lifecycle, in a compose project of its own (the shared one stays up for the other
 * files): `make down` + `make up` keeps the data; the production profile, started from the same folder and project
 * name with the secrets created as the README says, is healthy under read-only root filesystems with its limits
 * applied and does not see the development data; `docker compose down -v` removes the volumes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { expect, inject, it } from 'vitest';
import { describeStack, docker, repoRoot } from '../support/stack.js';
import { compose as composeIn, make as makeIn, runIn } from './support/compose.js';

const PROD = ['-f', 'docker-compose.yml', '-f', 'docker-compose.prod.yml'];
const project = () => `${inject('stackEnv').COMPOSE_PROJECT_NAME}life`;
/**
 * Another project name, host port and image tag than the shared stack: both run side by side. The tag matters:
 * compose labels the images it builds with the project, so building the shared tag here would move it to another
 * image, and the next `up` of the shared project would recreate its containers.
 */
const lifeEnv = () => ({
  COMPOSE_PROJECT_NAME: project(),
  NGINX_HOST_PORT: String(20_000 + (process.pid % 20_000)),
  IMAGE_TAG: 'test-lifecycle',
});
const make = (args: string[]) => makeIn(args, lifeEnv());
const compose = (args: string[]) => composeIn(args, lifeEnv());

/** The address of the project's Postgres container on its network (the test runs on the engine's host). */
async function databaseUrl(password: string): Promise<string> {
  const address = (
    await docker([
      'inspect',
      '--format',
      '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
      `${project()}-postgres-1`,
    ])
  ).trim();
  return `postgres://app:${encodeURIComponent(password)}@${address}:5432/app`;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

const allVolumes = async () => (await docker(['volume', 'ls', '--quiet'])).trim().split('\n').filter(Boolean);
const projectVolumes = async () =>
  (await docker(['volume', 'ls', '--quiet', '--filter', `label=com.docker.compose.project=${project()}`]))
    .trim()
    .split('\n')
    .filter(Boolean);

describeStack('the stack over its lifecycle', () => {
  const devPassword = () => inject('stackEnv').POSTGRES_PASSWORD as string;
  const slug = `lifecycle-${process.pid}`;

  it('when make down then make up run, then the data is still there and no anonymous volume is left', async () => {
    const volumesBefore = new Set(await allVolumes());
    await make(['up']);
    await query(await databaseUrl(devPassword()), 'INSERT INTO categories (slug, name) VALUES ($1, $2)', [
      slug,
      'Kept',
    ]);
    await make(['down']);
    expect(await projectVolumes()).toEqual(
      expect.arrayContaining([`${project()}_pgdata`, `${project()}_redis-queue-data`]),
    );
    await make(['up']);
    const rows = await query<{ name: string }>(
      await databaseUrl(devPassword()),
      'SELECT name FROM categories WHERE slug = $1',
      [slug],
    );
    expect(rows).toEqual([{ name: 'Kept' }]);
    await make(['down']);
    // The Redis image declares VOLUME /data; the cache's tmpfs there keeps compose from leaving one anonymous
    // volume behind at every down/up.
    const added = (await allVolumes()).filter((name) => !volumesBefore.has(name));
    expect(added.sort()).toEqual([`${project()}_pgdata`, `${project()}_redis-queue-data`]);
  });

  it('when the production profile starts with the secrets the README creates, then it is healthy, read-only, limited and on its own data', async () => {
    const dir = inject('stackEnv').COMPOSE_DIR as string;
    await runIn('bash', ['-euo', 'pipefail', '-c', productionSecretCommands()], lifeEnv());
    await compose([...PROD, 'up', '-d', '--wait']);
    try {
      const password = readFileSync(join(dir, 'secrets/postgres_password'), 'utf8').trim();
      // Its own volume, initialised with the secret's password: no development row, and the password works.
      expect(await query(await databaseUrl(password), 'SELECT 1 FROM categories WHERE slug = $1', [slug])).toEqual([]);
      const ps = await compose([...PROD, 'ps', '--format', '{{.Service}} {{.Status}}']);
      const running = ps.trim().split('\n');
      expect(running.filter((line) => line.startsWith('api ')).length).toBe(3);
      expect(running.filter((line) => line.startsWith('worker ')).length).toBe(2);
      for (const line of running) expect(line, line).toMatch(/\(healthy\)/);

      const ids = (await compose([...PROD, 'ps', '--quiet'])).trim().split('\n');
      for (const id of ids) {
        const [name, readOnly, nanoCpus, memory, restart] = (
          await docker([
            'inspect',
            '--format',
            '{{.Name}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}',
            id,
          ])
        )
          .trim()
          .split(' ');
        expect(readOnly, name).toBe('true');
        expect(Number(nanoCpus), name).toBeGreaterThan(0);
        expect(Number(memory), name).toBeGreaterThan(0);
        expect(restart, name).toBe('unless-stopped');
      }
      const logs = await compose([...PROD, 'logs', '--no-color']);
      expect(logs).not.toMatch(/read-only file system|EROFS|permission denied|could not (create|open|write)/i);
      const volumes = await docker([
        'inspect',
        '--format',
        '{{range .Mounts}}{{.Name}} {{end}}',
        `${project()}-postgres-1`,
      ]);
      expect(volumes).toContain(`${project()}_pgdata-prod`);
    } finally {
      await compose([...PROD, 'down', '--volumes']);
    }
  });

  it('when docker compose down -v runs, then the volumes are gone', async () => {
    await compose(['down', '--volumes']);
    expect(await projectVolumes()).toEqual([]);
  });
});

/** The shell block under "Production profile" in the README, so the test creates the secrets exactly as documented. */
function productionSecretCommands(): string {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const block = /<!-- prod-secrets -->\s*```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('README.md has no ```sh block after <!-- prod-secrets -->');
  return block;
}
