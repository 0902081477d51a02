// Swarm start-up gate for the api and worker tasks (docker-stack.yml): `node schema-gate.mjs <entry point>`.
// Swarm has no depends_on, and the `migrate` job may still be running (or waiting for Postgres) when these tasks
// start. The gate waits until every migration file of this task's own image is recorded in schema_migrations
// with the same checksum, then loads the entry point in this process (so tini's signals reach the server as usual).
// Until then nothing listens, the health check fails, and the task is not in the service's DNS answer: nginx
// never sends it a request on an unmigrated schema. It gives up after SCHEMA_GATE_TIMEOUT_MS (default 25 s, below
// the health check's start_period of 30 s, so the gate exits before Swarm would kill the task) and Swarm starts a
// new task.
// Plain JavaScript run from a Swarm config: it uses the image's own core build and pg, so any image tag works.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';

const entryPoint = process.argv[2];
if (!entryPoint) {
  console.error('usage: node schema-gate.mjs <entry point, e.g. api/dist/main.js>');
  process.exit(2);
}
const fromApp = createRequire(resolve('package.json'));
const core = await import(pathToFileURL(fromApp.resolve('@stack/core')).href);
const pg = (await import(pathToFileURL(fromApp.resolve('pg')).href)).default;

const timeoutMs = Number(process.env.SCHEMA_GATE_TIMEOUT_MS ?? 25_000);
const config = core.loadConfigOrExit(core.loadMigrateConfig, 'schema-gate');
const wanted = await core.readMigrations(config.MIGRATIONS_DIR);

/** The files of this image that the database has not recorded (or recorded with other bytes). */
async function missingMigrations() {
  const client = new pg.Client({ connectionString: config.DATABASE_URL, application_name: 'schema-gate' });
  await client.connect();
  try {
    const table = await client.query("SELECT to_regclass('schema_migrations') AS name");
    if (table.rows[0]?.name === null) return wanted.map((file) => file.name);
    const { rows } = await client.query('SELECT filename, checksum FROM schema_migrations');
    const recorded = new Map(rows.map((row) => [row.filename, row.checksum]));
    return wanted.filter((file) => recorded.get(file.name) !== file.checksum).map((file) => file.name);
  } finally {
    await client.end();
  }
}

const deadline = Date.now() + timeoutMs;
let reported = '';
for (;;) {
  const missing = await missingMigrations().catch((error) => [`(database: ${error.message})`]);
  if (missing.length === 0) break;
  const state = missing.join(', ');
  if (state !== reported) console.error(`schema-gate: waiting for the migrate job: ${state}`);
  reported = state;
  if (Date.now() > deadline) {
    console.error(`schema-gate: schema still behind after ${timeoutMs} ms; exiting for Swarm to retry`);
    process.exit(1);
  }
  await sleep(1_000);
}
await import(pathToFileURL(resolve(entryPoint)).href);
