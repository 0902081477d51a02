// Stand-in for `k6/http`: synchronous requests like k6's, made with curl, recorded with their tags.
import { execFileSync } from 'node:child_process';

export const recorded = { requests: [] };

export function expectedStatuses(...statuses) {
  return { statuses };
}

export function request(method, url, body, params = {}) {
  const args = ['-s', '-S', '-X', method, '-w', '\n%{http_code}', '--max-time', '10'];
  for (const [name, value] of Object.entries(params.headers ?? {})) args.push('-H', `${name}: ${value}`);
  if (body !== null && body !== undefined) args.push('--data-binary', String(body));
  args.push(url);
  const started = performance.now();
  const output = execFileSync('curl', args, { encoding: 'utf8', maxBuffer: 32 * 1024 * 1024 });
  const duration = performance.now() - started;
  const cut = output.lastIndexOf('\n');
  const status = Number(output.slice(cut + 1));
  const text = output.slice(0, cut);
  const expected = params.responseCallback?.statuses ?? [200, 201, 202, 204, 301, 302, 304];
  recorded.requests.push({
    method,
    url,
    status,
    duration,
    tags: params.tags ?? {},
    failed: !expected.includes(status),
  });
  return {
    status,
    body: text,
    json: () => JSON.parse(text),
    timings: { duration },
  };
}

export function get(url, params) {
  return request('GET', url, null, params);
}

export default { request, get, expectedStatuses };
