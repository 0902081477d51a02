/**
 * wrk (Apache-2.0, Debian package) as the closed-model load generator: a fixed number of connections, each sending
 * its next request as soon as (or a think time after) the previous one was answered. It measures throughput at a
 * given concurrency; its latencies are those of a closed loop (a slow server slows the senders down too).
 *
 * Every run loads a Lua script whose done() prints one JSON line (prefixed WRKJSON) with the totals and
 * percentiles, so nothing depends on wrk's human-readable output.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  errors: number;
  errorsByKind: { connect: number; read: number; write: number; status: number; timeout: number };
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  bytes: number;
}

/** Lua that prints the summary as JSON. Appended to every script. */
export const WRK_REPORT_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"mean":%.3f,"p50":%d,"p90":%d,"p95":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.max))
end
`;

export interface WrkOptions {
  url: string;
  connections: number;
  threads?: number;
  seconds: number;
  headers?: Record<string, string>;
  /** Extra Lua (request()/delay()/init() ...); the report function is appended. */
  lua?: string;
  timeoutSeconds?: number;
  workDir: string;
  name: string;
}

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const script = join(options.workDir, `${options.name}.lua`);
  await writeFile(script, `${options.lua ?? ''}\n${WRK_REPORT_LUA}`);
  const threads = Math.min(options.threads ?? 2, options.connections);
  const args = [
    `-t${threads}`,
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    `--timeout`,
    `${options.timeoutSeconds ?? 10}s`,
    '-s',
    script,
  ];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(options.url);
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (error) => reject(new Error(`wrk could not start (apt-get install wrk): ${error.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`wrk exited with ${code}: ${stderr.trim() || stdout.trim()}`));
    });
  });
  const line = output.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (!line) throw new Error(`wrk printed no summary:\n${output}`);
  const raw = JSON.parse(line.slice('WRKJSON '.length)) as Record<string, number>;
  const n = (key: string) => raw[key] ?? 0;
  const seconds = n('duration_us') / 1e6;
  const errorsByKind = {
    connect: n('connect'),
    read: n('read'),
    write: n('write'),
    status: n('status'),
    timeout: n('timeout'),
  };
  return {
    requests: n('requests'),
    seconds,
    rps: seconds > 0 ? n('requests') / seconds : 0,
    errors: Object.values(errorsByKind).reduce((a, b) => a + b, 0),
    errorsByKind,
    meanMs: n('mean') / 1000,
    p50Ms: n('p50') / 1000,
    p90Ms: n('p90') / 1000,
    p95Ms: n('p95') / 1000,
    p99Ms: n('p99') / 1000,
    maxMs: n('max') / 1000,
    bytes: n('bytes'),
  };
}

/**
 * Lua that numbers wrk's threads (setup() runs once per thread in the main state, init() in each thread's own) and
 * seeds each thread's math.random with `seed` + its number, so a thread's draws are the same every run. `init` is
 * more Lua for the end of init(); `thread_id` is the thread's number from then on.
 */
export function threadsLua(seed: number, init = ''): string {
  return `
local thread_id = 0
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
init = function(args)
  thread_id = tid or 0
  math.randomseed(${seed} + thread_id)
${init}
end
`;
}

/** A double-quoted Lua 5.1 string literal; bytes outside printable ASCII become \ddd escapes. */
export function luaString(value: string): string {
  let out = '"';
  for (const byte of Buffer.from(value, 'utf8')) {
    if (byte === 0x22 || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\${String(byte).padStart(3, '0')}`;
  }
  return `${out}"`;
}

export async function wrkVersion(): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('wrk', ['-v'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('close', () => resolve(out.split('\n')[0]?.trim() ?? 'wrk'));
    child.on('error', () => resolve('wrk (not found)'));
  });
}
