-- Users and their API tokens. Only an HMAC of a token is stored (see core/src/auth/tokens.ts):
-- a leaked table does not reveal usable tokens.

CREATE TABLE users (
  id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email       text NOT NULL CHECK (email = lower(email) AND length(email) <= 320),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  role        text NOT NULL CHECK (role IN ('customer', 'admin')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE api_tokens (
  id            integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id       integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name          text NOT NULL DEFAULT 'default' CHECK (length(name) <= 100),
  -- HMAC-SHA256(pepper, token): 32 bytes. The lookup on every authenticated request uses this key.
  token_hash    bytea NOT NULL CHECK (length(token_hash) = 32),
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz,
  revoked_at    timestamptz,
  CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash)
);
-- Listing and revoking a user's tokens.
CREATE INDEX api_tokens_user_id_idx ON api_tokens (user_id);
