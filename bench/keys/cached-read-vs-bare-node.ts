/** The hottest read with nginx's micro-cache bypassed (nginx -> api -> Redis) / one bare Node process from memory. */
import { measureWrk } from '../lib/measure.ts';
import { startBareNode } from '../lib/references.ts';
import { ratioKey, throughputLimit } from '../lib/verdict.ts';
import type { BenchmarkKey } from './key.ts';

export const cachedReadVsBareNode: BenchmarkKey = {
  name: 'cached_read_vs_bare_node',
  title: 'Redis-cached read (edge bypassed) / bare Node from memory',
  unit: 'req/s',
  catalogs: 'large',
  async measure(context) {
    // Any Cookie makes nginx skip its micro-cache ($edge_skip_cache); the api ignores cookies, so this is a Redis hit.
    const bypass = { ...context.edgeHeaders, Cookie: 'bench=edge-bypass' };
    const { env, settings, wrk } = context;
    const hot = await context.hottestRead();
    const check = await fetch(hot.url, { headers: bypass });
    await check.arrayBuffer();
    const edgeStatus = check.headers.get('x-cache-status');
    const contentHeaders: Record<string, string> = {};
    for (const name of ['content-type', 'etag', 'cache-control', 'vary']) {
      const value = hot.headers.get(name);
      if (value) contentHeaders[name] = value;
    }
    const viaStack = await measureWrk(env, { ...wrk, url: hot.url, headers: bypass, name: 'cached-read-stack' });
    const viaBare = await context.withReference(
      () => startBareNode(context.workDir, hot.body, contentHeaders),
      (reference) => measureWrk(env, { ...wrk, url: reference.url, headers: bypass, name: 'cached-read-bare-node' }),
    );
    const key = ratioKey(
      { op: '>=', value: 0.5 },
      viaStack,
      viaBare,
      viaStack.figures.req_per_s / viaBare.figures.req_per_s,
      `wrk, ${settings.wrk_connections} connections, ${settings.wrk_seconds} s, GET ${hot.path} with a Cookie so ` +
        `nginx bypasses its micro-cache (X-Cache-Status: ${edgeStatus ?? 'none'}); the api answers from Redis. ` +
        `Through nginx and ${settings.api_processes} api processes / one bare Node ${process.version} process ` +
        `serving the same bytes from memory.`,
      () => throughputLimit('stack', viaStack.cpu) + '. ' + throughputLimit('reference', viaBare.cpu),
    );
    key.edge_cache_status = edgeStatus;
    await context.explainWithProfile(key, 'api', () =>
      measureWrk(env, { ...wrk, seconds: 4, url: hot.url, headers: bypass, name: 'cached-read-stack-profiled' }, 0),
    );
    return key;
  },
};
