-- The audit trail of admin actions (core/src/audit/audit-log.ts): one row per action that took effect,
-- written in the action's own transaction. No foreign keys: the trail outlives the users, tokens and rows it
-- names (a deleted webhook endpoint keeps its 'webhook_endpoint.delete' row).
CREATE TABLE audit_log (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at    timestamptz NOT NULL DEFAULT now(),
  actor_user_id  integer NOT NULL,
  actor_token_id integer NOT NULL,
  -- X-Request-Id: nginx's, or the api's own when none came (api/src/http/request-context.ts).
  request_id     text NOT NULL,
  action         text NOT NULL,
  target_type    text NOT NULL,
  target_id      text NOT NULL,
  details        jsonb NOT NULL DEFAULT '{}'
);
-- The admin list reads newest first by id: the primary key serves it, so no other index.

-- Append-only for the application: the api and the worker (app_rw, db/init/008_app_role.sql) add and read rows,
-- never change or remove one.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM app_rw;
