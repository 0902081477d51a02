/** `make seed`: writes deterministic demo data (see core/src/seed/seed.ts). */
import { invalidateCatalogCacheAt } from '../cache/catalog-versions.js';
import { ConfigError, loadSeedConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { seed, SeedRefusedError } from '../seed/seed.js';
import { runCli } from './run-cli.js';

await runCli(async () => {
  const config = loadSeedConfig();
  const logger = createLogger({ level: config.LOG_LEVEL, instance: config.INSTANCE_NAME, component: 'seed' });
  const summary = await seed(config, logger);
  logger.info(summary, 'seed complete');
  // Every catalog response cached before the seed describes data that no longer exists.
  if (config.REDIS_CACHE_URL) await invalidateCatalogCacheAt(config.REDIS_CACHE_URL, logger);
}, [ConfigError, SeedRefusedError]);
