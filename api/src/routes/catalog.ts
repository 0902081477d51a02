import { Router } from 'express';
import { listCategories, type Pool } from '@stack/core';

export function catalogRoutes(deps: { pool: Pool; edgeMaxAgeSeconds: number }): Router {
  const router = Router();
  const publicCacheControl = `public, max-age=${deps.edgeMaxAgeSeconds}`;

  router.get('/categories', async (_req, res) => {
    const categories = await listCategories(deps.pool);
    res.set('Cache-Control', publicCacheControl).json({ data: categories });
  });

  return router;
}
