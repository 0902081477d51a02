/**
 * The api's runtime (what main.ts runs): one close for everything it opened, safe to call twice.
 */
import { describe, expect, it } from 'vitest';
import { startApi } from './support/api.js';

describe('api runtime', () => {
  it('when closed twice, then both calls share one close and every client and port is released', async () => {
    const api = await startApi();
    expect((await api.fetch('/healthz')).status).toBe(200);
    const first = api.close();
    const second = api.close();
    expect(await first).toBe(true);
    expect(await second).toBe(true);
    expect(api.server.listening).toBe(false);
    expect(api.pool.ended).toBe(true);
    expect([api.cacheRedis.status, api.queueRedis.status]).toEqual(['end', 'end']);
    await expect(api.fetch('/healthz')).rejects.toThrow();
  });

  it('when the port is taken, then starting fails and what was already opened is closed', async () => {
    const api = await startApi();
    try {
      await expect(startApi({ env: { PORT: String(api.port) } })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await api.close();
    }
  });
});
