import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_SETTINGS, ConfigError, loadApiConfig, loadWorkerConfig } from '../src/config.js';
import { parseWebhookKeyList } from '../src/webhooks/secret-keyring.js';

const validApiEnv = {
  DATABASE_URL: 'postgres://app:secret@localhost:5432/app',
  REDIS_CACHE_URL: 'redis://localhost:6379',
  REDIS_QUEUE_URL: 'redis://localhost:6380',
  API_TOKEN_PEPPER: 'x'.repeat(32),
  WEBHOOK_SECRET_KEY: 'w'.repeat(32),
};

function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('when every required setting is valid, then defaults fill the rest', () => {
    const config = loadApiConfig(validApiEnv);
    expect(config.PORT).toBe(3000);
    expect(config.PG_POOL_MAX).toBe(10);
    expect(config.TRUST_PROXY_HOPS).toBe(1);
    expect(config.HTTP_HEADERS_TIMEOUT_MS).toBeGreaterThan(config.HTTP_KEEP_ALIVE_TIMEOUT_MS);
  });

  it('when DATABASE_URL is nonsense, then the error names the setting and the expected shape', () => {
    const error = configError(() => loadApiConfig({ ...validApiEnv, DATABASE_URL: 'nonsense' }));
    expect(error.message).toContain('DATABASE_URL: must be a URL like postgres://');
  });

  it('when a public development secret is given, then the api and the worker refuse it unless ALLOW_DEV_SECRETS is on', () => {
    const devPepper = { ...validApiEnv, API_TOKEN_PEPPER: 'dev-only-pepper-0000000000000000000000000000' };
    expect(configError(() => loadApiConfig(devPepper)).message).toContain(
      'API_TOKEN_PEPPER: is a public development value',
    );
    expect(loadApiConfig({ ...devPepper, ALLOW_DEV_SECRETS: 'true' }).API_TOKEN_PEPPER).toBe(
      devPepper.API_TOKEN_PEPPER,
    );
    const devDatabase = { ...validApiEnv, DATABASE_URL: 'postgres://app:dev-only-postgres-password@postgres:5432/app' };
    for (const load of [loadApiConfig, loadWorkerConfig]) {
      expect(configError(() => load(devDatabase)).message).toContain(
        'DATABASE_URL: its password is a public development value',
      );
      expect(load({ ...devDatabase, ALLOW_DEV_SECRETS: 'true' }).ALLOW_DEV_SECRETS).toBe(true);
    }
    const placeholder = {
      ...validApiEnv,
      API_TOKEN_PEPPER: 'change-me-to-64-hex-characters-from-openssl-rand-hex-32-0000000',
    };
    expect(configError(() => loadApiConfig(placeholder)).message).toContain('API_TOKEN_PEPPER: is a public');
  });

  it('when a Redis URL carries a public development password, then the api and the worker refuse it unless ALLOW_DEV_SECRETS is on', () => {
    for (const name of ['REDIS_CACHE_URL', 'REDIS_QUEUE_URL'] as const) {
      const devRedis = { ...validApiEnv, [name]: 'redis://:dev-only-redis-cache-password@redis:6379' };
      for (const load of [loadApiConfig, loadWorkerConfig]) {
        expect(configError(() => load(devRedis)).message).toContain(
          `${name}: its password is a public development value`,
        );
        expect(load({ ...devRedis, ALLOW_DEV_SECRETS: 'true' })[name]).toBe(devRedis[name]);
      }
    }
    // A password of one's own passes; so does none (the server decides whether it asks for one).
    expect(loadApiConfig({ ...validApiEnv, REDIS_CACHE_URL: 'redis://:3f9c1a@redis:6379' }).REDIS_CACHE_URL).toBe(
      'redis://:3f9c1a@redis:6379',
    );
  });

  it('when a Redis URL comes from REDIS_CACHE_URL_FILE or REDIS_QUEUE_URL_FILE, then the file is read as the other secrets are', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-'));
    writeFileSync(join(dir, 'cache'), 'redis://:c4ch3@redis:6379\n');
    writeFileSync(join(dir, 'queue'), 'redis://:qu3u3@redis-queue:6379');
    const { REDIS_CACHE_URL: _cache, REDIS_QUEUE_URL: _queue, ...env } = validApiEnv;
    const files = { REDIS_CACHE_URL_FILE: join(dir, 'cache'), REDIS_QUEUE_URL_FILE: join(dir, 'queue') };
    const config = loadWorkerConfig({ ...env, ...files });
    expect([config.REDIS_CACHE_URL, config.REDIS_QUEUE_URL]).toEqual([
      'redis://:c4ch3@redis:6379',
      'redis://:qu3u3@redis-queue:6379',
    ]);
    expect(configError(() => loadApiConfig({ ...validApiEnv, ...files })).message).toContain(
      'REDIS_CACHE_URL: set either REDIS_CACHE_URL or REDIS_CACHE_URL_FILE, not both',
    );
  });

  it('when the webhook secret key is the public development one, missing or short, then the api and the worker refuse it', () => {
    const devKey = { ...validApiEnv, WEBHOOK_SECRET_KEY: 'dev-only-webhook-secret-key-00000000000000' };
    const { WEBHOOK_SECRET_KEY: _omitted, ...withoutKey } = validApiEnv;
    for (const load of [loadApiConfig, loadWorkerConfig]) {
      expect(configError(() => load(devKey)).message).toContain('WEBHOOK_SECRET_KEY: is a public development value');
      expect(load({ ...devKey, ALLOW_DEV_SECRETS: 'true' }).WEBHOOK_SECRET_KEY).toBe(devKey.WEBHOOK_SECRET_KEY);
      expect(configError(() => load(withoutKey)).message).toContain('WEBHOOK_SECRET_KEY: is required');
      expect(configError(() => load({ ...validApiEnv, WEBHOOK_SECRET_KEY: 'short' })).message).toContain(
        'WEBHOOK_SECRET_KEY: must be at least 32 characters',
      );
    }
  });

  it('when the webhook keys come from files, then the current key and the previous keys are read from them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-'));
    writeFileSync(join(dir, 'key'), `${'n'.repeat(64)}\n`);
    writeFileSync(join(dir, 'previous'), `# rotated 2026-12\n${'o'.repeat(64)}\n${'p'.repeat(40)}\n`);
    writeFileSync(join(dir, 'empty'), '');
    const { WEBHOOK_SECRET_KEY: _omitted, ...env } = validApiEnv;
    const files = {
      WEBHOOK_SECRET_KEY_FILE: join(dir, 'key'),
      WEBHOOK_SECRET_PREVIOUS_KEYS_FILE: join(dir, 'previous'),
    };
    const config = loadWorkerConfig({ ...env, ...files });
    expect(config.WEBHOOK_SECRET_KEY).toBe('n'.repeat(64));
    expect(parseWebhookKeyList(config.WEBHOOK_SECRET_PREVIOUS_KEYS)).toEqual(['o'.repeat(64), 'p'.repeat(40)]);
    const emptyPrevious = { ...env, ...files, WEBHOOK_SECRET_PREVIOUS_KEYS_FILE: join(dir, 'empty') };
    expect(loadWorkerConfig(emptyPrevious).WEBHOOK_SECRET_PREVIOUS_KEYS).toBe('');
    expect(
      configError(() => loadWorkerConfig({ ...validApiEnv, WEBHOOK_SECRET_PREVIOUS_KEYS: 'short' })).message,
    ).toContain('WEBHOOK_SECRET_PREVIOUS_KEYS: each key must be at least 32 characters');
  });

  it('when the token pepper is missing or short, then the api refuses to start', () => {
    const { API_TOKEN_PEPPER: _omitted, ...withoutPepper } = validApiEnv;
    expect(configError(() => loadApiConfig(withoutPepper)).message).toContain('API_TOKEN_PEPPER: is required');
    expect(configError(() => loadApiConfig({ ...validApiEnv, API_TOKEN_PEPPER: 'short' })).message).toContain(
      'API_TOKEN_PEPPER: must be at least 32 characters',
    );
  });

  it('when several settings are bad, then all of them are listed at once', () => {
    const error = configError(() =>
      loadWorkerConfig({ ...validApiEnv, REDIS_QUEUE_URL: 'http://x', PG_POOL_MAX: '0' }),
    );
    expect(error.issues).toEqual(
      expect.arrayContaining([expect.stringMatching(/^REDIS_QUEUE_URL: /), expect.stringMatching(/^PG_POOL_MAX: /)]),
    );
  });

  it('when a secret comes from a *_FILE, then its trimmed content is used', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-'));
    writeFileSync(join(dir, 'pepper'), `${'p'.repeat(40)}\n`);
    const { API_TOKEN_PEPPER: _omitted, ...env } = validApiEnv;
    expect(loadApiConfig({ ...env, API_TOKEN_PEPPER_FILE: join(dir, 'pepper') }).API_TOKEN_PEPPER).toBe('p'.repeat(40));
    expect(configError(() => loadApiConfig({ ...env, API_TOKEN_PEPPER_FILE: join(dir, 'missing') })).message).toContain(
      'API_TOKEN_PEPPER_FILE: cannot read',
    );
  });

  it('when a setting is known to the schemas, then .env.example documents it with a comment', () => {
    const example = readFileSync(join(repoRoot, '.env.example'), 'utf8').split('\n');
    const documented = new Map<string, boolean>();
    example.forEach((line, index) => {
      const match = /^([A-Z][A-Z0-9_]*)=/.exec(line);
      if (match?.[1]) documented.set(match[1], (example[index - 1] ?? '').startsWith('#'));
    });
    const plainSettings = ALL_SETTINGS.filter((name) => !name.endsWith('_FILE'));
    expect(plainSettings.filter((name) => !documented.has(name))).toEqual([]);
    expect([...documented].filter(([, commented]) => !commented).map(([name]) => name)).toEqual([]);
    // The *_FILE variants are described in the header comment.
    for (const name of ALL_SETTINGS.filter((setting) => setting.endsWith('_FILE'))) {
      expect(example.join('\n')).toContain(name);
    }
  });

  it('when code reads the environment, then it is core/src/config.ts and nowhere else', () => {
    const readers = sourceFiles(['core/src', 'api/src', 'worker/src']).filter((file) =>
      /process\.env\b/.test(readFileSync(join(repoRoot, file), 'utf8')),
    );
    expect(readers).toEqual(['core/src/config.ts']);
  });
});

const repoRoot = join(import.meta.dirname, '..', '..');

function sourceFiles(dirs: string[]): string[] {
  return dirs.flatMap((dir) =>
    readdirSync(join(repoRoot, dir), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .map((file) => `${dir}/${file}`),
  );
}
