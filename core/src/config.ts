/**
 * Every setting the api, the worker and the CLIs read, parsed once at start against a schema.
 * This is the only file that reads `process.env`; `.env.example` documents each key.
 *
 * A bad value stops the process before it listens, with a message naming the setting
 * (`ConfigError`), so a typo never turns into a half-working replica.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { parseCidrList } from './webhooks/address-policy.js';
import { parseWebhookKeyList } from './webhooks/secret-keyring.js';

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  constructor(readonly issues: readonly string[]) {
    super(`Invalid configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const port = integer(0, 65_535);
const milliseconds = (max: number) => integer(1, max);

const urlWithScheme = (schemes: readonly string[], example: string) =>
  z.string().refine(
    (value) => {
      try {
        const url = new URL(value);
        return schemes.includes(url.protocol.replace(/:$/, '')) && url.hostname !== '';
      } catch {
        return false;
      }
    },
    { message: `must be a URL like ${example}` },
  );

const postgresUrl = urlWithScheme(['postgres', 'postgresql'], 'postgres://user:password@host:5432/db');
// A password goes in the URL (redis://:password@host:6379), given as REDIS_*_URL_FILE like DATABASE_URL_FILE.
const redisUrl = urlWithScheme(['redis', 'rediss'], 'redis://:password@host:6379');

const logging = {
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  INSTANCE_NAME: z.string().min(1).max(100).default(hostname()),
};

/**
 * DATABASE_URL may point at PgBouncer (transaction pooling). The server-side guards (statement_timeout,
 * idle_in_transaction_session_timeout) are settings of the app's role (db/roles.sql), not connection parameters:
 * transaction pooling drops startup parameters.
 */
const postgres = {
  DATABASE_URL: postgresUrl,
  PG_POOL_MAX: integer(1, 500).default(10),
  PG_CONNECT_TIMEOUT_MS: milliseconds(60_000).default(2_000),
};

const redis = {
  REDIS_CACHE_URL: redisUrl,
  REDIS_QUEUE_URL: redisUrl,
  CACHE_COMMAND_TIMEOUT_MS: milliseconds(10_000).default(150),
};

/**
 * How much stock one customer can take out of sale without paying (issue 11, "Inventory hoarding"):
 * a pending order holds its stock for ORDER_HOLD_SECONDS; an order has at most ORDER_MAX_LINES items
 * and ORDER_MAX_UNITS units; a customer holds at most CUSTOMER_MAX_HELD_UNITS units in pending orders;
 * a token makes at most API_WRITE_BURST writes at once, refilled at API_WRITE_RATE_PER_SECOND (a token
 * bucket in the cache Redis, on top of nginx's per-address limits).
 */
const orderLimits = {
  ORDER_HOLD_SECONDS: integer(10, 7 * 86_400).default(900),
  // The order schema's own bounds (50 items of at most 1,000 units) are the ceiling of these.
  ORDER_MAX_LINES: integer(1, 50).default(20),
  ORDER_MAX_UNITS: integer(1, 50_000).default(100),
  CUSTOMER_MAX_HELD_UNITS: integer(1, 100_000_000).default(300),
  API_WRITE_RATE_PER_SECOND: z.coerce.number().positive().max(1_000_000).default(5),
  API_WRITE_BURST: integer(1, 1_000_000).default(20),
};

/**
 * The compose file's development secrets and .env.example's placeholders are public: a process that serves with one
 * refuses to start unless this is on (the base compose file turns it on for `make up`; the production overlay
 * turns it off; native mode and the tests generate secrets of their own).
 */
const devSecrets = {
  ALLOW_DEV_SECRETS: z.stringbool().default(false),
};

/**
 * The keys webhook signing secrets are sealed with (core/src/webhooks/secret-keyring.ts): the api seals with the
 * current one, the worker opens with it or with a previous one (rotation: worker/README.md, "Secrets at rest").
 */
const webhookSecretKey = {
  WEBHOOK_SECRET_KEY: z.string().min(32, 'must be at least 32 characters (use: openssl rand -hex 32)'),
};
const webhookPreviousKeys = {
  // Comma-, space- or line-separated; `#` lines are comments (an empty secret file is allowed).
  WEBHOOK_SECRET_PREVIOUS_KEYS: z
    .string()
    .default('')
    .refine(
      (value) => parseWebhookKeyList(value).every((key) => key.length >= 32),
      'each key must be at least 32 characters',
    ),
};
const PUBLIC_SECRET = /^(dev-only-|change-me)/;

/** Job tier settings both sides need: the api builds the same queues (for bull-board) as the worker. */
const jobQueues = {
  WEBHOOK_MAX_ATTEMPTS: integer(1, 50).default(10),
  // Private networks webhooks may reach anyway (comma-separated CIDRs; empty: none). The api checks it when an
  // endpoint is registered, the worker when it connects (core/src/webhooks/address-policy.ts).
  WEBHOOK_ALLOWED_PRIVATE_CIDRS: z
    .string()
    .default('')
    .superRefine((value, ctx) => {
      try {
        parseCidrList(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
      }
    }),
};

const apiSchema = z.object({
  ...logging,
  ...devSecrets,
  ...postgres,
  ...redis,
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: port.default(3000),
  METRICS_PORT: port.default(9100),
  API_TOKEN_PEPPER: z.string().min(32, 'must be at least 32 characters (use: openssl rand -hex 32)'),
  TRUST_PROXY_HOPS: integer(0, 10).default(1),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: milliseconds(600_000).default(65_000),
  HTTP_HEADERS_TIMEOUT_MS: milliseconds(600_000).default(66_000),
  SHUTDOWN_TIMEOUT_MS: milliseconds(120_000).default(10_000),
  SHUTDOWN_DRAIN_DELAY_MS: integer(0, 60_000).default(1_000),
  CACHE_TTL_SECONDS: integer(1, 86_400).default(60),
  EDGE_CACHE_MAX_AGE_SECONDS: integer(0, 3_600).default(5),
  AUTH_TOKEN_CACHE_MS: integer(0, 60_000).default(5_000),
  HTTP_COMPRESSION: z.stringbool().default(false),
  ...jobQueues,
  ...webhookSecretKey,
  IMPORT_MAX_BYTES: integer(1, 1_073_741_824).default(52_428_800),
  QUEUE_BOARD_SESSION_TTL_SECONDS: integer(60, 86_400).default(900),
  QUEUE_BOARD_COOKIE_SECURE: z.stringbool().default(false),
  ...orderLimits,
});

const workerSchema = z.object({
  ...logging,
  ...devSecrets,
  ...postgres,
  ...redis,
  HOST: z.string().min(1).default('0.0.0.0'),
  WORKER_METRICS_PORT: port.default(9101),
  WORKER_CONCURRENCY: integer(1, 100).default(4),
  SHUTDOWN_TIMEOUT_MS: milliseconds(120_000).default(10_000),
  ...jobQueues,
  ...webhookSecretKey,
  ...webhookPreviousKeys,
  WORKER_HEAVY_CONCURRENCY: integer(1, 16).default(1),
  WORKER_LOCK_DURATION_MS: integer(1_000, 600_000).default(15_000),
  WORKER_STALLED_INTERVAL_MS: integer(500, 600_000).default(5_000),
  // The outbox relay's LISTEN connection goes straight to Postgres: a session feature that PgBouncer's transaction
  // pooling cannot carry. Unset: DATABASE_URL (no pooler in between).
  DATABASE_DIRECT_URL: postgresUrl.optional(),
  OUTBOX_POLL_INTERVAL_MS: integer(50, 60_000).default(1_000),
  OUTBOX_BATCH_SIZE: integer(1, 1_000).default(100),
  REPORT_BATCH_ROWS: integer(100, 100_000).default(5_000),
  IMPORT_BATCH_ROWS: integer(10, 10_000).default(1_000),
  IMPORT_MAX_STORED_ERRORS: integer(0, 1_000_000).default(10_000),
  WEBHOOK_TIMEOUT_MS: integer(100, 60_000).default(5_000),
  WEBHOOK_BACKOFF_BASE_MS: integer(1, 3_600_000).default(5_000),
  WEBHOOK_BACKOFF_MAX_MS: integer(1, 86_400_000).default(3_600_000),
  // How often the worker expires lapsed pending orders (a BullMQ job scheduler: one run per interval
  // across all workers), and how many it expires per transaction.
  ORDER_LAPSE_INTERVAL_MS: integer(1_000, 3_600_000).default(15_000),
  ORDER_LAPSE_BATCH_SIZE: integer(1, 10_000).default(500),
  // Published outbox rows older than OUTBOX_RETENTION_HOURS are deleted (not those a webhook delivery references),
  // every OUTBOX_RETENTION_INTERVAL_MS (one run per interval across all workers), OUTBOX_RETENTION_BATCH_SIZE per
  // transaction (core/src/outbox/retention.ts).
  OUTBOX_RETENTION_HOURS: integer(1, 87_600).default(168),
  OUTBOX_RETENTION_INTERVAL_MS: integer(1_000, 86_400_000).default(3_600_000),
  OUTBOX_RETENTION_BATCH_SIZE: integer(1, 100_000).default(1_000),
});

const migrateSchema = z.object({
  ...logging,
  DATABASE_URL: postgresUrl,
  MIGRATIONS_DIR: z.string().min(1).default('db/init'),
  MIGRATE_LOCK_TIMEOUT_MS: milliseconds(600_000).default(10_000),
});

const seedSchema = z
  .object({
    ...logging,
    DATABASE_URL: postgresUrl,
    // The cache the api serves catalog reads from: the seed bumps its catalog version so that lists cached before
    // the seed are not served after it. Unset: nothing to invalidate (a database no api has served yet).
    REDIS_CACHE_URL: redisUrl.optional(),
    API_TOKEN_PEPPER: apiSchema.shape.API_TOKEN_PEPPER,
    SEED_PRODUCTS: integer(0, 50_000_000).default(10_000),
    SEED_CUSTOMERS: integer(1, 10_000_000).default(1_000),
    SEED_ORDERS: integer(0, 50_000_000).default(20_000),
    SEED_RANDOM_SEED: integer(0, 2 ** 31 - 1).default(42),
    SEED_RESET: z.stringbool().default(false),
    DEV_ADMIN_TOKEN: z.string().min(20).optional(),
    DEV_CUSTOMER_TOKEN: z.string().min(20).optional(),
    // Load-test customers (see core/src/seed/loadtest-tokens.ts): customer n's token is `<secret>-c<n>`.
    LOADTEST_CUSTOMERS: integer(0, 100_000).default(0),
    LOADTEST_TOKEN_SECRET: z
      .string()
      .regex(/^[A-Za-z0-9_-]{20,100}$/, 'must be 20 to 100 characters of A-Z a-z 0-9 _ - (use: openssl rand -hex 16)')
      .optional(),
  })
  .superRefine((config, ctx) => {
    if (config.LOADTEST_CUSTOMERS > 0 && config.LOADTEST_TOKEN_SECRET === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['LOADTEST_TOKEN_SECRET'],
        message: 'is required when LOADTEST_CUSTOMERS > 0',
      });
    }
  });

export type ApiConfig = z.infer<typeof apiSchema>;
export type WorkerConfig = z.infer<typeof workerSchema>;
export type MigrateConfig = z.infer<typeof migrateSchema>;
export type SeedConfig = z.infer<typeof seedSchema>;
export type PostgresConfig = Pick<
  ApiConfig,
  'DATABASE_URL' | 'PG_POOL_MAX' | 'PG_CONNECT_TIMEOUT_MS' | 'INSTANCE_NAME'
>;

/** Settings that may be given as `<NAME>_FILE` (a path), as Docker and swarm secrets are. */
const SECRET_SETTINGS = [
  'DATABASE_URL',
  'DATABASE_DIRECT_URL',
  'API_TOKEN_PEPPER',
  'REDIS_CACHE_URL',
  'REDIS_QUEUE_URL',
  'WEBHOOK_SECRET_KEY',
  'WEBHOOK_SECRET_PREVIOUS_KEYS',
] as const;

function resolveSecretFiles(env: Env): { env: Record<string, string | undefined>; issues: string[] } {
  const resolved: Record<string, string | undefined> = { ...env };
  const issues: string[] = [];
  for (const name of SECRET_SETTINGS) {
    const path = env[`${name}_FILE`];
    if (path === undefined || path === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      issues.push(`${name}: set either ${name} or ${name}_FILE, not both`);
      continue;
    }
    try {
      resolved[name] = readFileSync(path, 'utf8').trim();
    } catch (error) {
      issues.push(`${name}_FILE: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  // An empty variable means "not set": compose passes `KEY=` through for `${KEY:-}`.
  for (const [key, value] of Object.entries(resolved)) if (value === '') resolved[key] = undefined;
  return { env: resolved, issues };
}

function parse<T extends z.ZodType>(schema: T, env: Env, check?: (config: z.infer<T>) => string[]): z.infer<T> {
  const { env: resolved, issues } = resolveSecretFiles(env);
  const result = schema.safeParse(resolved);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const name = issue.path.join('.');
      const message = issue.code === 'invalid_type' && resolved[name] === undefined ? 'is required' : issue.message;
      issues.push(`${name}: ${message}`);
    }
  } else if (check) {
    issues.push(...check(result.data));
  }
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);
  return result.data;
}

/** The public development secrets a serving process was given, unless ALLOW_DEV_SECRETS is on. */
function refusePublicSecrets(config: {
  ALLOW_DEV_SECRETS: boolean;
  DATABASE_URL: string;
  REDIS_CACHE_URL: string;
  REDIS_QUEUE_URL: string;
  API_TOKEN_PEPPER?: string;
  WEBHOOK_SECRET_KEY: string;
}): string[] {
  if (config.ALLOW_DEV_SECRETS) return [];
  const advice = 'a public development value; set a secret of your own (or ALLOW_DEV_SECRETS=true on a dev machine)';
  const issues: string[] = [];
  for (const name of ['DATABASE_URL', 'REDIS_CACHE_URL', 'REDIS_QUEUE_URL'] as const) {
    if (PUBLIC_SECRET.test(decodeURIComponent(new URL(config[name]).password))) {
      issues.push(`${name}: its password is ${advice}`);
    }
  }
  if (config.API_TOKEN_PEPPER !== undefined && PUBLIC_SECRET.test(config.API_TOKEN_PEPPER)) {
    issues.push(`API_TOKEN_PEPPER: is ${advice}`);
  }
  // Only the current key: a public key among the previous ones still opens rows sealed before a rotation away from it.
  if (PUBLIC_SECRET.test(config.WEBHOOK_SECRET_KEY)) issues.push(`WEBHOOK_SECRET_KEY: is ${advice}`);
  return issues;
}

export const loadApiConfig = (env: Env = process.env): ApiConfig => parse(apiSchema, env, refusePublicSecrets);
export const loadWorkerConfig = (env: Env = process.env): WorkerConfig => parse(workerSchema, env, refusePublicSecrets);
export const loadMigrateConfig = (env: Env = process.env): MigrateConfig => parse(migrateSchema, env);
export const loadSeedConfig = (env: Env = process.env): SeedConfig => parse(seedSchema, env);

/** Every setting name the schemas know, for the test that keeps `.env.example` complete. */
export const ALL_SETTINGS: readonly string[] = [
  ...new Set([apiSchema, workerSchema, migrateSchema, seedSchema].flatMap((schema) => Object.keys(schema.shape))),
  ...SECRET_SETTINGS.map((name) => `${name}_FILE`),
].sort();

/**
 * For entry points: the parsed config, or a one-line reason on stderr and exit code 1 before anything
 * was opened (so there is nothing to drain). Other errors propagate with their stack.
 */
export function loadConfigOrExit<T>(load: () => T, component: string): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${component}: ${error.message}`);
    process.exit(1);
  }
}
