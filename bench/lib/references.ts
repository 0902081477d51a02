/**
 * The reference servers the benchmark starts beside the stack (and stops again, by the PIDs it started):
 * nginx serving the same bytes statically, one bare Node process serving them from memory, and the naive app.
 */
import { freePort } from '../../tools/stack/native/plan.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../../load-tests/native/paths.ts';

export interface Reference {
  name: string;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function waitForHttp(url: string, child: ChildProcess, name: string, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${log()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`${name} did not answer ${url} within 30 s:\n${log()}`);
}

function startProcess(
  name: string,
  command: string,
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; log: () => string } {
  const child = spawn(command, args, {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, log: () => output };
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
}

export async function startNginxStatic(workDir: string, body: Buffer): Promise<Reference> {
  const dir = join(workDir, 'nginx-static');
  await mkdir(join(dir, 'root'), { recursive: true });
  await mkdir(join(dir, 'tmp'), { recursive: true });
  await writeFile(join(dir, 'root', 'body.json'), body);
  const port = await freePort();
  const template = await readFile(join(repoRoot, 'bench', 'references', 'nginx-static.conf'), 'utf8');
  await writeFile(
    join(dir, 'nginx.conf'),
    template.replaceAll('@PORT@', String(port)).replaceAll('@ROOT@', join(dir, 'root')),
  );
  const { child, log } = startProcess(
    'nginx-static',
    'nginx',
    ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-g', `daemon off; pid ${dir}/nginx.pid;`],
    {},
  );
  const url = `http://127.0.0.1:${port}/`;
  await waitForHttp(url, child, 'nginx (static reference)', log);
  return { name: 'nginx-static', url, pid: child.pid as number, stop: stopper(child) };
}

export async function startBareNode(
  workDir: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<Reference> {
  const file = join(workDir, 'bare-node-body');
  await writeFile(file, body);
  const port = await freePort();
  const { child, log } = startProcess(
    'bare-node',
    process.execPath,
    [join(repoRoot, 'bench', 'references', 'bare-node.ts')],
    {
      BODY_FILE: file,
      HEADERS_JSON: JSON.stringify(headers),
      PORT: String(port),
    },
  );
  const url = `http://127.0.0.1:${port}/`;
  await waitForHttp(url, child, 'bare node reference', log);
  return { name: 'bare-node', url, pid: child.pid as number, stop: stopper(child) };
}

export async function startNaive(databaseUrl: string, pepper: string): Promise<Reference> {
  const port = await freePort();
  const { child, log } = startProcess('naive', process.execPath, [join(repoRoot, 'bench', 'naive', 'server.ts')], {
    DATABASE_URL: databaseUrl,
    API_TOKEN_PEPPER: pepper,
    PORT: String(port),
    NODE_ENV: 'production',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/api/v1/products/1`, child, 'naive reference', log);
  return { name: 'naive', url, pid: child.pid as number, stop: stopper(child) };
}

export { freePort };
