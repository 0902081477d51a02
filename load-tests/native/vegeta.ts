/**
 * vegeta (MIT) as the open-model load generator: requests arrive at a constant rate whatever the server's latency
 * (vegeta adds workers as needed), so a slow server shows up as latency and errors instead of as a lower rate.
 * Built by scripts/setup-loadgen.sh into .tools/bin.
 *
 * Targets are written as vegeta JSON lines; results are read back with `vegeta encode --to json`, one line at a time.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from './paths.ts';

export interface HttpRequestSpec {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | null;
}

export interface VegetaResult {
  code: number;
  latencyMs: number;
  /** Milliseconds since the epoch when the request was sent. */
  startedMs: number;
  error: string;
  method: string;
  url: string;
  bytesIn: number;
  /** The captured body (up to -max-body bytes), or null when none was captured. */
  body: string | null;
  cacheStatus: string | null;
}

export function vegetaBinary(): string {
  const local = join(repoRoot, '.tools', 'bin', 'vegeta');
  if (existsSync(local)) return local;
  throw new Error(`vegeta is not installed (${local}): run scripts/setup-loadgen.sh (make setup does)`);
}

export async function writeTargets(file: string, requests: Iterable<HttpRequestSpec>): Promise<number> {
  const lines: string[] = [];
  for (const request of requests) {
    const header: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(request.headers)) header[name] = [value];
    const target: Record<string, unknown> = { method: request.method, url: request.url, header };
    if (request.body !== null) target.body = Buffer.from(request.body).toString('base64');
    lines.push(JSON.stringify(target));
  }
  await writeFile(file, lines.join('\n') + '\n');
  return lines.length;
}

export interface AttackOptions {
  targetsFile: string;
  resultsFile: string;
  /** Requests per second (may be fractional). */
  rate: number;
  seconds: number;
  timeoutSeconds?: number;
  /** Bytes of each response body to keep: -1 all, 0 none (cheapest). */
  maxBody?: number;
  name?: string;
}

/** Runs one attack to completion; resolves when vegeta has exited (non-zero exit rejects). */
export function attack(options: AttackOptions): Promise<void> {
  // vegeta's rate is "N per duration": use a per-minute rate when the per-second one is fractional.
  const perSecond = Number.isInteger(options.rate);
  const rate = perSecond ? `${options.rate}/1s` : `${Math.max(1, Math.round(options.rate * 60))}/1m`;
  const args = [
    'attack',
    '-format=json',
    `-targets=${options.targetsFile}`,
    `-output=${options.resultsFile}`,
    `-rate=${rate}`,
    `-duration=${options.seconds}s`,
    `-timeout=${options.timeoutSeconds ?? 10}s`,
    `-max-body=${options.maxBody ?? -1}`,
    // HTTP/1.1 with keep-alive, as browsers behind a CDN and k6 talk to nginx.
    '-http2=false',
    '-keepalive=true',
    `-name=${options.name ?? 'run'}`,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(vegetaBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`vegeta attack exited with ${code}: ${stderr.trim()}`));
    });
  });
}

interface EncodedResult {
  code: number;
  timestamp: string;
  latency: number;
  bytes_in: number;
  error: string;
  body?: string;
  method: string;
  url: string;
  headers?: Record<string, string[]> | null;
}

/** Streams the results of an attack (in completion order). */
export async function* readResults(resultsFile: string): AsyncGenerator<VegetaResult> {
  const child = spawn(vegetaBinary(), ['encode', '--to', 'json', resultsFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line === '') continue;
    const raw = JSON.parse(line) as EncodedResult;
    yield {
      code: raw.code,
      latencyMs: raw.latency / 1e6,
      startedMs: Date.parse(raw.timestamp),
      error: raw.error,
      method: raw.method,
      url: raw.url,
      bytesIn: raw.bytes_in,
      body: raw.body ? Buffer.from(raw.body, 'base64').toString('utf8') : null,
      cacheStatus: raw.headers?.['X-Cache-Status']?.[0] ?? null,
    };
  }
  const code = await exited;
  if (code !== 0) throw new Error(`vegeta encode exited with ${code}: ${stderr.trim()}`);
}

/** The version scripts/setup-loadgen.sh recorded next to the binary, for reports. */
export function vegetaVersion(): string {
  try {
    return readFileSync(`${vegetaBinary()}.version`, 'utf8').trim();
  } catch {
    return 'vegeta (version unknown)';
  }
}
