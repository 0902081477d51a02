/**
 * nginx/nginx.conf is one file for Docker and native mode. These checks run `nginx -t` on it in both layouts
 * with the nginx on this machine (Debian's 1.22 in dev/CI) and pin the contract the native script and the
 * compose file build on. What is NOT checked here: that nginx >= 1.27.3 (the pinned image) parses the
 * `resolver`/`resolve` lines of nginx/docker/upstream.conf, since 1.22 does not know them; the docker-layout
 * check substitutes them (see below) and a separate test only inspects their text.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findExecutable, makeTempDir, repoRoot, runWithFileOutput } from './helpers.js';

const nginxDir = join(repoRoot, 'nginx');
const nginxConf = readFileSync(join(nginxDir, 'nginx.conf'), 'utf8');
const dockerUpstream = readFileSync(join(nginxDir, 'docker', 'upstream.conf'), 'utf8');
const nginx = findExecutable('nginx', '/usr/sbin/nginx');
const tempDirs: string[] = [];

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Directives only, comments stripped, so prose in comments cannot satisfy or break a check. */
function directives(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trimEnd())
    .filter((line) => line.trim() !== '')
    .join('\n');
}

/** `nginx -t` with everything (prefix, pid, temp paths) inside `prefix`, as the native script runs it. */
function nginxTest(prefix: string, confFile: string) {
  return runWithFileOutput(nginx ?? 'nginx', [
    '-t',
    '-p',
    `${prefix}/`,
    '-c',
    confFile,
    '-g',
    `pid ${prefix}/nginx.pid;`,
  ]);
}

/** Like the native stack (tools/stack/native/services.ts): conf/ links every entry of nginx/ except docker/, plus the two generated files. */
function nativeLayout(extraFiles: Record<string, string> = {}): {
  prefix: string;
  conf: string;
} {
  const prefix = makeTempDir('nginx-native-');
  tempDirs.push(prefix);
  const conf = join(prefix, 'conf');
  mkdirSync(conf);
  for (const entry of readdirSync(nginxDir)) {
    if (entry !== 'docker') symlinkSync(join(nginxDir, entry), join(conf, entry));
  }
  writeFileSync(
    join(conf, 'upstream.conf'),
    'server 127.0.0.1:3001 max_fails=1 fail_timeout=5s;\nserver 127.0.0.1:3002 max_fails=1 fail_timeout=5s;\n',
  );
  writeFileSync(join(conf, 'listen.conf'), 'listen 127.0.0.1:18080;\n');
  for (const [name, content] of Object.entries(extraFiles)) writeFileSync(join(conf, name), content);
  return { prefix, conf };
}

/** What the nginx image's 20-envsubst-on-templates.sh renders from the template for a given LOADTEST_KEY. */
function renderLoadtestTemplate(key: string): string {
  const template = readFileSync(join(nginxDir, 'docker', 'templates', 'loadtest-key.conf.template'), 'utf8');
  return template.replaceAll('${LOADTEST_KEY}', key);
}

describe.skipIf(nginx === undefined)(
  `nginx config, checked with this machine's nginx -t${nginx === undefined ? ' (skipped: nginx is not installed)' : ''}`,
  () => {
    it('when laid out like native mode, then nginx -t accepts it', () => {
      const { prefix, conf } = nativeLayout();
      const result = nginxTest(prefix, join(conf, 'nginx.conf'));
      expect(result.status, result.output).toBe(0);
    });

    it('when native mode adds a loadtest-key.conf, then nginx -t accepts it', () => {
      const { prefix, conf } = nativeLayout({
        'loadtest-key.conf': '"0123456789abcdef0123456789abcdef" 1;\n',
      });
      const result = nginxTest(prefix, join(conf, 'nginx.conf'));
      expect(result.status, result.output).toBe(0);
    });

    it('when laid out like the compose mounts (docker includes, rendered template), then nginx -t accepts it', () => {
      // /etc/nginx in the container: nginx.conf, snippets/, and nginx/docker/* mounted next to them.
      const prefix = makeTempDir('nginx-docker-');
      tempDirs.push(prefix);
      const etc = join(prefix, 'etc');
      mkdirSync(etc);
      copyFileSync(join(nginxDir, 'nginx.conf'), join(etc, 'nginx.conf'));
      symlinkSync(join(nginxDir, 'snippets'), join(etc, 'snippets'));
      copyFileSync(join(nginxDir, 'docker', 'listen.conf'), join(etc, 'listen.conf'));
      // Substituted for nginx 1.22, which has neither `resolver` in upstream nor the `resolve` parameter, and
      // which would need `api` to resolve at config time: those lines become a plain static server. The
      // passive-health parameters of the line are kept and checked.
      const upstreamFor122 = directives(dockerUpstream)
        .split('\n')
        .filter((line) => !/^\s*resolver(_timeout)?\s/.test(line))
        .map((line) => line.replace(/\bapi:3000\b/, '127.0.0.1:3000').replace(/\sresolve\b/, ''))
        .join('\n');
      writeFileSync(join(etc, 'upstream.conf'), `${upstreamFor122}\n`);
      // The entrypoint renders the template with an empty key when LOADTEST_KEY is unset in .env.
      writeFileSync(join(etc, 'loadtest-key.conf'), renderLoadtestTemplate(''));
      const result = nginxTest(prefix, join(etc, 'nginx.conf'));
      expect(result.status, result.output).toBe(0);
    });

    it('when the load-test key template is rendered with a real key, then nginx -t accepts it', () => {
      const { prefix, conf } = nativeLayout({
        'loadtest-key.conf': renderLoadtestTemplate('k6_0123456789abcdef0123456789abcdef'),
      });
      const result = nginxTest(prefix, join(conf, 'nginx.conf'));
      expect(result.status, result.output).toBe(0);
    });

    it('when the load-test key is as long as a well-formed key may be (128), then nginx -t accepts it', () => {
      const { prefix, conf } = nativeLayout({ 'loadtest-key.conf': renderLoadtestTemplate('k'.repeat(128)) });
      const result = nginxTest(prefix, join(conf, 'nginx.conf'));
      expect(result.status, result.output).toBe(0);
    });
  },
);

describe('nginx config contract with native mode and compose', () => {
  const conf = directives(nginxConf);

  it('when nginx.conf is read, then it leaves pid and daemon to the runner and logs to stderr/stdout', () => {
    expect(conf).not.toMatch(/^\s*(pid|daemon)\s/m);
    expect(conf).toMatch(/^\s*error_log\s+stderr\b/m);
    expect(conf).toMatch(/^\s*access_log\s+\/dev\/stdout\s/m);
  });

  it('when nginx.conf is read, then it includes upstream.conf and listen.conf by relative path', () => {
    expect(conf).toMatch(/^\s*include\s+upstream\.conf;/m);
    expect(conf).toMatch(/^\s*include\s+listen\.conf;/m);
  });

  it('when nginx.conf is read, then temp and cache paths are relative to the prefix', () => {
    const paths = [...conf.matchAll(/^\s*(\w+_temp_path|proxy_cache_path)\s+(\S+)/gm)].map((match) => match[2]);
    expect(paths.length).toBeGreaterThanOrEqual(6);
    for (const path of paths) expect(path, path).not.toMatch(/^\//);
  });

  it('when the upstream keepalive timeout is read, then it is shorter than Node keepAliveTimeout (65 s)', () => {
    const upstream = /upstream\s+api\s*\{([^}]*)\}/.exec(conf)?.[1] ?? '';
    const timeout = /keepalive_timeout\s+(\d+)s;/.exec(upstream)?.[1];
    expect(Number(timeout)).toBeGreaterThan(0);
    expect(Number(timeout)).toBeLessThan(65);
    expect(upstream).toMatch(/^\s*zone\s+\S+\s+\S+;/m);
    expect(upstream).toMatch(/^\s*least_conn;/m);
  });

  it('when retries are configured, then non-idempotent requests are never retried', () => {
    expect(conf).toMatch(/^\s*proxy_next_upstream\s+error timeout http_502;/m);
    expect(conf).not.toMatch(/non_idempotent/);
  });

  it('when gzip types are read, then they list the API formats and not text/html (always on, nginx warns)', () => {
    const types = /^\s*gzip_types\s+([^;]+);/m.exec(conf)?.[1]?.split(/\s+/) ?? [];
    expect(types).toEqual(
      expect.arrayContaining(['application/json', 'application/problem+json', 'text/csv', 'text/plain']),
    );
    expect(types).not.toContain('text/html');
  });

  it('when the repo is read, then it ships no loadtest-key.conf (the allowance is off by default)', () => {
    expect(readdirSync(nginxDir)).not.toContain('loadtest-key.conf');
    expect(conf).toMatch(/include\s+loadtest-key\*\.conf;/);
  });

  it('when the docker upstream include is read, then it resolves the api service through Docker DNS', () => {
    // Text only: this machine's nginx cannot parse these two directives (see the file comment).
    const lines = directives(dockerUpstream);
    expect(lines).toMatch(/^resolver\s+127\.0\.0\.11\s+valid=\d+s/m);
    expect(lines).toMatch(/^server\s+api:3000\s+resolve\s+max_fails=\d+\s+fail_timeout=\d+s;/m);
  });

  it('when the compose nginx image is read, then its version supports upstream `resolve` (>= 1.27.3)', () => {
    const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { image?: string }>;
    };
    const image = (compose.services.nginx?.image ?? '').replace(/^\$\{NGINX_IMAGE:-(.+)\}$/, '$1');
    const tag = /^nginx:(\d+)\.(\d+)(?:\.(\d+))?/.exec(image);
    expect(tag, compose.services.nginx?.image).not.toBeNull();
    const [major, minor, patch] = [Number(tag?.[1]), Number(tag?.[2]), Number(tag?.[3] ?? 99)];
    expect(major * 1_000_000 + minor * 1_000 + patch).toBeGreaterThanOrEqual(1_027_003);
  });
});
