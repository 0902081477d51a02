-- Storage the job tier needs beyond 004_jobs.sql.

-- An uploaded import file, in ~1 MiB pieces, until the worker has read it (core/src/imports/storage.ts).
-- In Postgres because the api and the worker both reach it wherever they run (a local folder would
-- need a shared volume across hosts under `docker stack deploy`). Written as the upload streams in
-- and read back one piece at a time: neither side holds the whole file. Deleted when the import ends.
CREATE TABLE import_chunks (
  import_id  uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  seq        integer NOT NULL CHECK (seq >= 0),
  data       bytea NOT NULL,
  PRIMARY KEY (import_id, seq)
);

-- The fan-out of an outbox event: WHERE outbox_id = $1 AND status = 'pending'. Also serves the
-- foreign key from webhook_deliveries to outbox, should old outbox rows ever be deleted.
CREATE INDEX webhook_deliveries_outbox_id_idx ON webhook_deliveries (outbox_id);
