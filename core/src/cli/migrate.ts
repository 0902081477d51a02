/** `make migrate`: applies pending db/init files. Exit code 0 when the schema is current. */
import { ConfigError, loadMigrateConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { migrate, MigrationError } from '../migrate.js';
import { runCli } from './run-cli.js';

await runCli(async () => {
  const config = loadMigrateConfig();
  const logger = createLogger({ level: config.LOG_LEVEL, instance: config.INSTANCE_NAME, component: 'migrate' });
  const result = await migrate({
    databaseUrl: config.DATABASE_URL,
    dir: config.MIGRATIONS_DIR,
    lockTimeoutMs: config.MIGRATE_LOCK_TIMEOUT_MS,
    logger,
  });
  logger.info(
    { applied: result.applied, alreadyApplied: result.alreadyApplied },
    result.applied.length === 0
      ? 'schema is current; nothing to apply'
      : `applied ${result.applied.length} migration(s)`,
  );
}, [ConfigError, MigrationError]);
