-- Webhook signing secrets are stored sealed with AES-256-GCM (core/src/webhooks/secret-keyring.ts), never in
-- clear: secret_key_id names the key (WEBHOOK_SECRET_KEY or one of WEBHOOK_SECRET_PREVIOUS_KEYS) and
-- secret_ciphertext holds iv | tag | sealed bytes, bound to the row's id.
--
-- SQL has no key, so rows from before this migration cannot be sealed here: their clear value moves to
-- clear_secret, which the worker seals at its start (and `webhook-secrets reseal` on demand), emptying it.
-- Until then the worker still signs with it, so no delivery breaks during the upgrade.
ALTER TABLE webhook_endpoints RENAME COLUMN secret TO clear_secret;
ALTER TABLE webhook_endpoints
  ALTER COLUMN clear_secret DROP NOT NULL,
  ADD COLUMN secret_key_id text,
  ADD COLUMN secret_ciphertext bytea,
  -- Sealed (both columns) or, for a row not yet resealed, clear; never neither, never both.
  ADD CONSTRAINT webhook_endpoints_secret_stored CHECK (
    (secret_key_id IS NULL) = (secret_ciphertext IS NULL)
    AND (clear_secret IS NULL) <> (secret_ciphertext IS NULL)
  );
