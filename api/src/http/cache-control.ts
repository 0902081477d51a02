/**
 * Cache-Control for every response that belongs to one caller (orders, admin writes, tokens, jobs): never stored
 * by nginx's micro-cache, a browser or any proxy in between. Public catalog reads set theirs from
 * EDGE_CACHE_MAX_AGE_SECONDS instead (routes/catalog.ts). https://www.rfc-editor.org/rfc/rfc9111#section-5.2.2
 */
export const PRIVATE_CACHE_CONTROL = 'private, no-store';
