-- The cluster's roles and the application database (issue 11, least privilege), run by the superuser before any
-- migration, every time a password or a setting may have changed (idempotent):
--
--   psql -X -v ON_ERROR_STOP=1 -v owner=app -v owner_password=... -v app_password=... -v dbname=app \
--        -f db/roles.sql postgres
--
-- Native mode runs it on every `up` (tools/stack/native/postgres.ts); the Postgres container on its first start
-- (db/docker-init/roles.sh, with the passwords from its secrets). To change a password or a timeout on a running
-- cluster, edit and run it again with psql as the superuser.
--
--   :owner  owns the database and every table: migrations and the seed run as it. Not a superuser; CREATEDB for the
--           tests' scratch databases. Native mode: `app`; the containers: `app_owner` (their `app` is POSTGRES_USER,
--           the image's bootstrap superuser, kept so that existing volumes and tools keep working).
--   app_rw  the api and the worker: rows only (db/init/008_app_role.sql grants them). Its guards are role settings,
--           not connection parameters, because PgBouncer's transaction pooling drops startup parameters: a runaway
--           statement is cancelled after 5 s, a session idle inside a transaction ends after 10 s (what the app set
--           per connection before PgBouncer). A transaction may lift them for itself (SET LOCAL, as reports do).
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'owner', :'owner_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
ALTER ROLE :"owner" LOGIN CREATEDB NOSUPERUSER NOCREATEROLE PASSWORD :'owner_password';

SELECT format('CREATE ROLE app_rw LOGIN PASSWORD %L', :'app_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_rw') \gexec
ALTER ROLE app_rw LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'app_password';
ALTER ROLE app_rw SET statement_timeout = '5s';
ALTER ROLE app_rw SET idle_in_transaction_session_timeout = '10s';
-- A lock wait counts against statement_timeout; the migrations' own lock_timeout is set per session (core/src/migrate.ts).

SELECT format('CREATE DATABASE %I OWNER %I', :'dbname', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dbname') \gexec
ALTER DATABASE :"dbname" OWNER TO :"owner";
