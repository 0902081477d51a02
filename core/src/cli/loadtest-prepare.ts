/**
 * `make loadtest` runs this first (in the seed service's container): the data and tokens the k6 run signs in with.
 * An empty database gets the deterministic demo data of `make seed`; a seeded one gets the load-test tokens of
 * customers 1..LOADTEST_CUSTOMERS (idempotent). Fails, saying what to do, when fewer such customers exist.
 */
import pg from 'pg';
import { ConfigError, loadSeedConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { ensureLoadtestTokens } from '../seed/loadtest-tokens.js';
import { seedAndInvalidate, SeedRefusedError } from '../seed/seed.js';
import { runCli } from './run-cli.js';

class NotEnoughCustomersError extends Error {}

await runCli(async () => {
  const config = loadSeedConfig();
  const logger = createLogger({
    level: config.LOG_LEVEL,
    instance: config.INSTANCE_NAME,
    component: 'loadtest-prepare',
  });
  const secret = config.LOADTEST_TOKEN_SECRET;
  if (secret === undefined || config.LOADTEST_CUSTOMERS === 0) {
    throw new NotEnoughCustomersError('LOADTEST_CUSTOMERS and LOADTEST_TOKEN_SECRET must be set for a load test');
  }
  const client = new pg.Client({ connectionString: config.DATABASE_URL, application_name: 'loadtest-prepare' });
  await client.connect();
  try {
    const { rows } = await client.query<{ users: number }>('SELECT count(*)::int AS users FROM users');
    if ((rows[0]?.users ?? 0) === 0) {
      logger.info('empty database: writing the demo data of make seed first');
      logger.info(await seedAndInvalidate(config, logger), 'seed complete');
    }
    const stored = await ensureLoadtestTokens(client, {
      secret,
      customers: config.LOADTEST_CUSTOMERS,
      pepper: config.API_TOKEN_PEPPER,
    });
    if (stored < config.LOADTEST_CUSTOMERS) {
      throw new NotEnoughCustomersError(
        `only ${stored} of LOADTEST_CUSTOMERS=${config.LOADTEST_CUSTOMERS} customers (customer<n>@example.com) exist: ` +
          'lower LOADTEST_CUSTOMERS, or re-seed with SEED_RESET=true make seed (deletes all data)',
      );
    }
    logger.info({ loadtestCustomers: stored }, 'load-test customers ready');
  } finally {
    await client.end();
  }
}, [ConfigError, SeedRefusedError, NotEnoughCustomersError]);
