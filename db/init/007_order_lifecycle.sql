-- The order lifecycle (core/src/orders/lifecycle.ts): an order is placed `pending` and holds its stock
-- until `hold_until`; it then becomes `paid` (an admin marks it), `cancelled` (its customer) or
-- `expired` (the worker's lapse job), and the last two give the stock back. Stock invariant:
-- initial stock = current stock + units in live (pending, paid, shipped) orders.

-- 'placed' becomes 'pending'. Orders placed before payments existed were accepted as final: they count
-- as paid, so they keep their stock and never lapse (nothing a customer was told changes).
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
UPDATE orders SET status = 'paid' WHERE status = 'placed';
ALTER TABLE orders
  ALTER COLUMN status SET DEFAULT 'pending',
  ADD CONSTRAINT orders_status_check CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled', 'expired')),
  -- Until when a pending order holds its stock (ORDER_HOLD_SECONDS after it was placed: createOrder always
  -- sets it); kept afterwards as a record of the hold. The default (ORDER_HOLD_SECONDS' default) is for rows
  -- written by hand (benchmarks, tests): a pending order always has an end to its hold. Existing rows keep NULL.
  ADD COLUMN hold_until timestamptz,
  ADD CONSTRAINT orders_pending_hold CHECK (status <> 'pending' OR hold_until IS NOT NULL);

-- After ADD COLUMN, so existing rows are not given a hold (a volatile default would fill them in).
ALTER TABLE orders ALTER COLUMN hold_until SET DEFAULT now() + interval '15 minutes';

-- The lapse job's query: WHERE status = 'pending' AND hold_until <= now() ORDER BY hold_until LIMIT n.
-- Partial, so it holds only the orders still waiting (few), not the history.
CREATE INDEX orders_pending_hold_idx ON orders (hold_until) WHERE status = 'pending';
-- The per-customer cap: units in a customer's pending orders, summed when they order again.
CREATE INDEX orders_pending_user_idx ON orders (user_id) WHERE status = 'pending';
