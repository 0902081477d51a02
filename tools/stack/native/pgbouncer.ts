/**
 * The native stack's PgBouncer (issue 10): between the api/worker pools and Postgres, in transaction mode, with the
 * settings every layout shares (pgbouncer/pooling.ini) after this stack's own lines. The binary is the one
 * scripts/setup-pgbouncer.sh builds into .tools/pgbouncer (Debian bookworm's 1.18 has no max_prepared_statements),
 * or PGBOUNCER_BIN.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StackEnv } from './env.ts';
import { NativeStackError } from './log.ts';
import type { LaunchSpec } from './processes.ts';

/** max_prepared_statements came with 1.21. */
const MINIMUM = [1, 21];

export function pgbouncerBinary(repo: string): string {
  const binary = process.env.PGBOUNCER_BIN ?? join(repo, '.tools', 'pgbouncer', 'bin', 'pgbouncer');
  let version = '';
  try {
    version = execFileSync(binary, ['--version'], { encoding: 'utf8' });
  } catch {
    throw new NativeStackError(`${binary} not found: run make setup (scripts/setup-pgbouncer.sh builds PgBouncer)`);
  }
  const [major = 0, minor = 0] = (/PgBouncer (\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  if (major < (MINIMUM[0] as number) || (major === MINIMUM[0] && minor < (MINIMUM[1] as number))) {
    throw new NativeStackError(`${binary} is ${version.trim()}; native mode needs >= ${MINIMUM.join('.')}`);
  }
  return binary;
}

const folderOf = (env: StackEnv) => join(env.dir, 'pgbouncer');

/** PgBouncer drops root for the `postgres` system user (it refuses to run as root); its files must be readable then. */
function postgresOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  if (!line) throw new NativeStackError('system user postgres missing (it comes with the postgresql package)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * pgbouncer.ini and userlist.txt in <stack>/pgbouncer, rewritten on every start: app_rw is the only user PgBouncer
 * admits (the owner and the superuser connect directly), with the password stack.env holds; no Unix socket.
 */
export function writePgbouncerConfig(env: StackEnv, repo: string): string {
  const folder = folderOf(env);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const ini = join(folder, 'pgbouncer.ini');
  const userlist = join(folder, 'userlist.txt');
  const owner = postgresOwner();
  writeFileSync(userlist, `"app_rw" "${env.pg.appPassword}"\n`, { mode: 0o600 });
  writeFileSync(
    ini,
    [
      '; Written by the native stack on every start of pgbouncer; edits are overwritten.',
      '[databases]',
      `app = host=127.0.0.1 port=${env.pg.port} dbname=app`,
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${env.pgbouncer.port}`,
      'unix_socket_dir =',
      `auth_file = ${userlist}`,
      ...(owner ? ['user = postgres'] : []),
      `%include ${join(repo, 'pgbouncer', 'pooling.ini')}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  if (owner) for (const path of [folder, ini, userlist]) chownSync(path, owner.uid, owner.gid);
  return ini;
}

/** PgBouncer in the foreground, logging to stderr (logs/pgbouncer.log). */
export function pgbouncerSpec(env: StackEnv, repo: string): LaunchSpec {
  const binary = pgbouncerBinary(repo);
  return { command: binary, args: [join(folderOf(env), 'pgbouncer.ini')], env: {}, unset: [], match: 'pgbouncer' };
}
