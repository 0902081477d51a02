-- A report's CSV in pieces (core/src/reports/generate.ts), as imports keep their upload (006_job_storage.sql):
-- the worker writes ~1 MiB pieces as it reads the grouped rows through a cursor, the api sends them one at a time,
-- so a report of a million rows (one per product) is never whole in either process's memory. In Postgres, not
-- in a folder, because the api and the worker reach it wherever they run (separate hosts under a swarm).
CREATE TABLE report_chunks (
  report_id  uuid NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
  seq        integer NOT NULL CHECK (seq >= 0),
  data       bytea NOT NULL,
  PRIMARY KEY (report_id, seq)
);

-- The CSV's size in bytes once completed: the download's Content-Length.
ALTER TABLE reports ADD COLUMN result_bytes bigint CHECK (result_bytes >= 0);

-- Reports completed before this migration kept their CSV in one text column: it becomes their only piece.
INSERT INTO report_chunks (report_id, seq, data)
SELECT id, 0, convert_to(result_csv, 'UTF8') FROM reports WHERE result_csv IS NOT NULL;
UPDATE reports SET result_bytes = octet_length(convert_to(result_csv, 'UTF8')) WHERE result_csv IS NOT NULL;
ALTER TABLE reports DROP COLUMN result_csv;

-- The outbox retention's query (core/src/outbox/retention.ts): published rows older than the retention, oldest
-- first, keyset-paginated by (published_at, id). Partial: unpublished rows are the relay's, never the retention's.
CREATE INDEX outbox_published_idx ON outbox (published_at, id) WHERE published_at IS NOT NULL;
