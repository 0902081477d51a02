-- State of the heavy jobs the worker runs: reports, imports, webhook deliveries.

CREATE TABLE reports (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  requested_by  integer NOT NULL REFERENCES users (id),
  params        jsonb NOT NULL,
  status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed', 'failed')),
  progress      smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  row_count     integer,
  -- The CSV result; reports are bounded by their grouping (days x products at most), so they fit a column.
  result_csv    text,
  error         text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  completed_at  timestamptz
);
CREATE INDEX reports_created_at_idx ON reports (created_at DESC);

CREATE TABLE imports (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  requested_by  integer NOT NULL REFERENCES users (id),
  format        text NOT NULL CHECK (format IN ('csv', 'ndjson')),
  -- Where the uploaded file is kept until the worker has read it (see core/src/imports).
  file_ref      text NOT NULL,
  file_bytes    bigint NOT NULL DEFAULT 0,
  status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed', 'failed')),
  progress      smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  rows_total    integer NOT NULL DEFAULT 0,
  rows_applied  integer NOT NULL DEFAULT 0,
  rows_failed   integer NOT NULL DEFAULT 0,
  error         text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  completed_at  timestamptz
);
CREATE INDEX imports_created_at_idx ON imports (created_at DESC);

CREATE TABLE import_errors (
  import_id  uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  line       integer NOT NULL,
  reason     text NOT NULL,
  PRIMARY KEY (import_id, line)
);

CREATE TABLE webhook_endpoints (
  id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  url          text NOT NULL CHECK (url ~ '^https?://'),
  -- Shared secret for the HMAC-SHA256 signature; shown to the admin once, at creation.
  secret       text NOT NULL,
  event_types  text[] NOT NULL CHECK (cardinality(event_types) > 0),
  active       boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  endpoint_id       integer NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  outbox_id         bigint NOT NULL REFERENCES outbox (id),
  event_type        text NOT NULL,
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts          integer NOT NULL DEFAULT 0,
  last_status_code  integer,
  last_error        text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  delivered_at      timestamptz,
  -- One delivery per event and endpoint, whatever the relay or a retry does.
  CONSTRAINT webhook_deliveries_endpoint_outbox_key UNIQUE (endpoint_id, outbox_id)
);
-- The admin's dead-letter list: WHERE status = 'dead' ORDER BY created_at DESC.
CREATE INDEX webhook_deliveries_dead_idx ON webhook_deliveries (created_at DESC) WHERE status = 'dead';
