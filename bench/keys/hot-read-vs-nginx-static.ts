/** The hottest public read through nginx's micro-cache / nginx serving the same bytes from a file. */
import { measureWrk } from '../lib/measure.ts';
import { startNginxStatic } from '../lib/references.ts';
import { ratioKey, throughputLimit } from '../lib/verdict.ts';
import type { BenchmarkKey } from './key.ts';

export const hotReadVsNginxStatic: BenchmarkKey = {
  name: 'hot_read_vs_nginx_static',
  title: 'Hottest public read, full stack / nginx static file',
  unit: 'req/s',
  catalogs: 'large',
  async measure(context) {
    const { env, settings, edgeHeaders, wrk } = context;
    const hot = await context.hottestRead();
    const viaStack = await measureWrk(env, { ...wrk, url: hot.url, headers: edgeHeaders, name: 'hot-read-stack' });
    const edgeCheck = await fetch(hot.url, { headers: edgeHeaders });
    await edgeCheck.arrayBuffer();
    const viaStatic = await context.withReference(
      () => startNginxStatic(context.workDir, hot.body),
      (reference) =>
        measureWrk(env, { ...wrk, url: reference.url, headers: edgeHeaders, name: 'hot-read-nginx-static' }),
    );
    const key = ratioKey(
      { op: '>=', value: 0.4 },
      viaStack,
      viaStatic,
      viaStack.figures.req_per_s / viaStatic.figures.req_per_s,
      `wrk, ${settings.wrk_connections} connections, ${settings.wrk_seconds} s, GET ${hot.path} without ` +
        `Accept-Encoding: through nginx (micro-cache) / nginx 1.22 serving the same ${hot.body.length} bytes from a file.`,
      () => throughputLimit('stack', viaStack.cpu) + '. ' + throughputLimit('reference', viaStatic.cpu),
    );
    // HIT: nginx answered from its micro-cache, as the hottest read should be.
    key.edge_cache_status = edgeCheck.headers.get('x-cache-status');
    return key;
  },
};
