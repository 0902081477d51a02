/** `make seed`: writes deterministic demo data (see core/src/seed/seed.ts). */
import { ConfigError, loadSeedConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { seedAndInvalidate, SeedRefusedError } from '../seed/seed.js';
import { runCli } from './run-cli.js';

await runCli(async () => {
  const config = loadSeedConfig();
  const logger = createLogger({ level: config.LOG_LEVEL, instance: config.INSTANCE_NAME, component: 'seed' });
  logger.info(await seedAndInvalidate(config, logger), 'seed complete');
}, [ConfigError, SeedRefusedError]);
