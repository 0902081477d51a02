/**
 * The routes an Express app really serves, found by walking its router stack (whatever mounted
 * them: declared modules or a stray `app.get`), compared with the OpenAPI document.
 */
import type { Express } from 'express';

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  rawPath?: string | string[];
  slash?: boolean;
}

export interface ServedRoute {
  method: string;
  /** OpenAPI template: `/api/v1/products/{id}`. */
  path: string;
}

/** Every method + path of every route layer; `router.all` catch-alls (our 405s) are skipped. */
export function servedRoutes(app: Express): ServedRoute[] {
  const routes: ServedRoute[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const method of Object.keys(layer.route.methods)) {
          if (method === '_all') continue;
          for (const path of paths) routes.push({ method, path: toTemplate(prefix + path) });
        }
      } else if (layer.handle?.stack) {
        const mount = typeof layer.rawPath === 'string' && !layer.slash ? layer.rawPath : '';
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return routes;
}

const toTemplate = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\/$/, '') || '/';

/** Served routes missing from the document. Routes below a documented mount (a UI with its own routes) count as documented. */
export function undocumentedRoutes(app: Express, doc: { paths: Record<string, Record<string, unknown>> }): string[] {
  const mounts = Object.entries(doc.paths)
    .filter(([, operations]) =>
      (operations.get as { description?: string } | undefined)?.description?.startsWith('A user interface'),
    )
    .map(([path]) => path);
  return servedRoutes(app)
    .filter(({ path }) => !mounts.some((mount) => path === mount || path.startsWith(`${mount}/`)))
    .filter(({ method, path }) => doc.paths[path]?.[method] === undefined)
    .map(({ method, path }) => `${method.toUpperCase()} ${path}`);
}
