-- Least privilege (issue 11): the api and the worker connect as `app_rw`, which may read and write rows and nothing
-- else: no DDL, no TRUNCATE, no ownership, no role attributes. Migrations (and the seed) run as the owner of the
-- database, the role that runs this file; its tables are the owner's.
--
-- The role itself, its password and its settings (statement_timeout, idle_in_transaction_session_timeout: per role,
-- because PgBouncer's transaction pooling drops startup parameters) are made by the cluster's superuser before
-- migrations run: db/roles.sql, run by native mode (tools/stack/native/postgres.ts) and by the Postgres container's
-- first start (db/docker-init/roles.sh). Creating a login role needs a password this file cannot know.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_rw') THEN
    RAISE EXCEPTION 'role app_rw does not exist: create it first (psql as the superuser -f db/roles.sql, docs in db/roles.sql)';
  END IF;
END
$$;

-- Nothing may create objects in public but its owner (the default since Postgres 15; explicit for clusters upgraded
-- from older versions).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO app_rw;

-- Rows of every table, present and future: the defaults cover what later migrations create, as long as the same
-- owner runs them.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO app_rw;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO app_rw;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO app_rw;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE ON SEQUENCES TO app_rw;

-- The migration record is read (the swarm schema gate waits on it) but written by migrations only.
REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM app_rw;
