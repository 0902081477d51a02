-- Admins deactivate categories instead of deleting them (products and past orders keep pointing at
-- them). An inactive category is hidden from GET /api/v1/categories and cannot be used as a product
-- filter or for new products; the api refuses to deactivate one that still has active products
-- (core/src/catalog/categories.ts), so no active product ever sits in an inactive category.
ALTER TABLE categories ADD COLUMN active boolean NOT NULL DEFAULT true;
