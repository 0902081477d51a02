-- Reference of `make bench` (orders_vs_pgbench): the SQL of one order creation as core/src/orders/orders.ts runs it
-- for a one-item order (quantity 1), statement for statement, driven by pgbench straight into Postgres: the ceiling
-- of order creations on this database. Variables set by bench/run.ts with -D: first_user, last_user (the load-test
-- customers' user ids) and order_products (rows in bench_order_products, the products both sides order, with
-- plenty of stock). The first SELECT stands in for the stack's token lookup before its transaction.
\set user_id random(:first_user, :last_user)
\set n random(1, :order_products)
SELECT product_id AS pid FROM bench_order_products WHERE n = :n \gset
BEGIN;
INSERT INTO orders (user_id, total_cents, idempotency_key, request_hash)
  VALUES (:user_id, 0, 'pgbench-' || gen_random_uuid()::text, sha256(convert_to(:pid::text, 'UTF8')))
  ON CONFLICT (user_id, idempotency_key) DO NOTHING
  RETURNING id AS order_id \gset
SELECT id, price_cents AS price, stock, active FROM products WHERE id = ANY(ARRAY[:pid]::int[]) ORDER BY id FOR UPDATE \gset
UPDATE products p SET stock = p.stock - i.quantity, updated_at = now()
  FROM unnest(ARRAY[:pid]::int[], ARRAY[1]::int[]) AS i(product_id, quantity)
 WHERE p.id = i.product_id;
INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
  SELECT :order_id, * FROM unnest(ARRAY[:pid]::int[], ARRAY[1]::int[], ARRAY[:price]::int[]);
UPDATE orders SET total_cents = :price WHERE id = :order_id;
INSERT INTO outbox (event_type, payload)
  VALUES ('order.created', jsonb_build_object('orderId', :order_id::bigint, 'userId', :user_id::int,
          'totalCents', :price::int, 'items', jsonb_build_array(jsonb_build_object('productId', :pid::int, 'quantity', 1,
          'unitPriceCents', :price::int))))
  RETURNING id AS outbox_id \gset
SELECT pg_notify('outbox_events', :outbox_id::text);
COMMIT;
