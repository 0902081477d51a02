/**
 * Cache-Control for every response that belongs to one caller (every route that is not public: orders, admin
 * writes, tokens, jobs; set by route.ts): never stored by nginx's micro-cache, a browser or any proxy in between.
 * https://www.rfc-editor.org/rfc/rfc9111#section-5.2.2
 */
export const PRIVATE_CACHE_CONTROL = 'private, no-store';

/** Cache-Control of public catalog reads: nginx's micro-cache and browsers may keep them this long (EDGE_CACHE_MAX_AGE_SECONDS). */
export function publicCacheControl(maxAgeSeconds: number): string {
  return maxAgeSeconds > 0 ? `public, max-age=${maxAgeSeconds}` : 'no-cache';
}
