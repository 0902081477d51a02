-- Orders, their items, the activity log and the transactional outbox.

CREATE TABLE orders (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id          integer NOT NULL REFERENCES users (id),
  status           text NOT NULL DEFAULT 'placed' CHECK (status IN ('placed', 'paid', 'shipped', 'cancelled')),
  total_cents      bigint NOT NULL CHECK (total_cents >= 0),
  -- Idempotency-Key header and a hash of the request body that first used it: the same key with
  -- the same body replays the first response, with another body it is rejected.
  idempotency_key  text CHECK (length(idempotency_key) BETWEEN 1 AND 200),
  request_hash     bytea,
  created_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT orders_user_idempotency_key UNIQUE (user_id, idempotency_key)
);
-- A customer's orders, newest first, keyset-paginated: WHERE user_id = $1 AND (created_at, id) < (...)
-- ORDER BY created_at DESC, id DESC. Also serves the foreign key from orders to users.
CREATE INDEX orders_user_created_idx ON orders (user_id, created_at DESC, id DESC);
-- Sales reports read orders by date range through a cursor.
CREATE INDEX orders_created_at_idx ON orders (created_at);

CREATE TABLE order_items (
  order_id          bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
  product_id        integer NOT NULL REFERENCES products (id),
  quantity          integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
  unit_price_cents  integer NOT NULL CHECK (unit_price_cents >= 0),
  PRIMARY KEY (order_id, product_id)
);
-- Reports group sales by product; the FK from order_items to products needs it too.
CREATE INDEX order_items_product_id_idx ON order_items (product_id);

CREATE TABLE activity_logs (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id     integer REFERENCES users (id) ON DELETE SET NULL,
  action      text NOT NULL,
  details     jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);
-- A user's recent activity: WHERE user_id = $1 ORDER BY created_at DESC.
CREATE INDEX activity_logs_user_created_idx ON activity_logs (user_id, created_at DESC);

-- Transactional outbox: written in the same transaction as the change it announces, relayed to
-- BullMQ by the worker with the outbox id as jobId (so a relay that runs twice enqueues once).
CREATE TABLE outbox (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_type    text NOT NULL,
  payload       jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz
);
-- The relay's query: WHERE published_at IS NULL ORDER BY id FOR UPDATE SKIP LOCKED. Stays tiny.
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;
