/**
 * `node core/dist/cli/webhook-secrets.js reseal`: moves every stored webhook secret under WEBHOOK_SECRET_KEY (rows
 * still in clear from before migration 009, rows under a key of WEBHOOK_SECRET_PREVIOUS_KEYS), as the worker does at
 * its start. It reads the worker's settings (run it where the worker runs: `docker compose run --rm worker node
 * core/dist/cli/webhook-secrets.js reseal`). Exit code 0 when every row is under the current key; 1 when some row
 * could not be opened (its key is in neither setting): those ids are printed and the rows left as they were.
 */
import { ConfigError, loadWorkerConfig } from '../config.js';
import { createPool } from '../db.js';
import { createLogger } from '../logger.js';
import { createWebhookSecretKeyring, parseWebhookKeyList } from '../webhooks/secret-keyring.js';
import { resealWebhookSecrets } from '../webhooks/secret-reseal.js';
import { runCli } from './run-cli.js';

class UsageError extends Error {}
class UnreadableSecretsError extends Error {}

await runCli(async () => {
  if (process.argv[2] !== 'reseal') throw new UsageError('usage: webhook-secrets.js reseal');
  const config = loadWorkerConfig();
  const logger = createLogger({
    level: config.LOG_LEVEL,
    instance: config.INSTANCE_NAME,
    component: 'webhook-secrets',
  });
  const keyring = createWebhookSecretKeyring(
    config.WEBHOOK_SECRET_KEY,
    parseWebhookKeyList(config.WEBHOOK_SECRET_PREVIOUS_KEYS),
  );
  const pool = createPool(config, logger);
  try {
    const result = await resealWebhookSecrets(pool, keyring);
    logger.info({ ...result, keyId: keyring.currentKeyId }, `resealed ${result.resealed} webhook secret(s)`);
    if (result.unreadable.length > 0) {
      throw new UnreadableSecretsError(
        `endpoints ${result.unreadable.join(', ')}: sealed under a key that is neither WEBHOOK_SECRET_KEY nor in ` +
          'WEBHOOK_SECRET_PREVIOUS_KEYS (or altered); add that key to WEBHOOK_SECRET_PREVIOUS_KEYS and run again',
      );
    }
  } finally {
    await pool.end();
  }
}, [ConfigError, UsageError, UnreadableSecretsError]);
