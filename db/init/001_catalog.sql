-- Catalog: categories and products.
-- Every index below is named after the query it serves (see core/src/catalog/*.ts and the EXPLAIN tests).

CREATE TABLE categories (
  id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 64),
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
  id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sku          text NOT NULL UNIQUE CHECK (length(sku) BETWEEN 1 AND 64),
  category_id  integer NOT NULL REFERENCES categories (id),
  name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description  text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
  price_cents  integer NOT NULL CHECK (price_cents >= 0),
  stock        integer NOT NULL DEFAULT 0 CHECK (stock >= 0),
  active       boolean NOT NULL DEFAULT true,
  -- Full-text search: name weighs more than description. A stored generated column keeps the
  -- vector in step with every write path (API, imports, seed) without triggers.
  search       tsvector GENERATED ALWAYS AS (
                 setweight(to_tsvector('english', name), 'A') ||
                 setweight(to_tsvector('english', description), 'B')
               ) STORED,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Keyset pagination of the public list: WHERE active [AND price filter] AND id > $cursor ORDER BY id.
CREATE INDEX products_active_id_idx ON products (id) WHERE active;
-- The same within a category: WHERE active AND category_id = $1 AND id > $cursor ORDER BY id.
CREATE INDEX products_active_category_id_idx ON products (category_id, id) WHERE active;
-- Text search on active products: WHERE active AND search @@ websearch_to_tsquery(...).
CREATE INDEX products_active_search_idx ON products USING gin (search) WHERE active;
-- The foreign key from products to categories needs no extra index: products_active_category_id_idx
-- leads with category_id, and categories are never deleted (only renamed), so no FK scan on delete.
