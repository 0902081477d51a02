import { describe, expect, it } from 'vitest';
import { Closers, createLogger, openResources } from '@stack/core';

const logger = createLogger({ level: 'silent', instance: 'closers-test', component: 'test' });

describe('closers', () => {
  it('when closed, then closers run once each, the last opened first', async () => {
    const closed: string[] = [];
    const closers = new Closers(logger);
    const pool = closers.open('pool', { name: 'pool' }, (resource) => closed.push(resource.name));
    closers.onClose('server', () => closed.push('server'));
    expect(pool).toEqual({ name: 'pool' });
    const first = closers.close();
    expect(closers.close()).toBe(first);
    expect(await first).toBe(true);
    expect(closed).toEqual(['server', 'pool']);
  });

  it('when a closer fails, then the others still run and close reports false', async () => {
    const closed: string[] = [];
    const closers = new Closers(logger);
    closers.onClose('pool', () => closed.push('pool'));
    closers.onClose('redis', async () => {
      throw new Error('redis is gone');
    });
    closers.onClose('server', () => closed.push('server'));
    expect(await closers.close()).toBe(false);
    expect(closed).toEqual(['server', 'pool']);
  });

  it('when opening fails half way, then what was opened is closed and the error propagates', async () => {
    const closed: string[] = [];
    const failing = openResources(logger, async (closers) => {
      closers.onClose('pool', () => closed.push('pool'));
      throw new Error('port in use');
    });
    await expect(failing).rejects.toThrow('port in use');
    expect(closed).toEqual(['pool']);
  });

  it('when opened, then the result carries one close for everything that was registered', async () => {
    const closed: string[] = [];
    const opened = await openResources(logger, async (closers) => {
      closers.onClose('pool', () => closed.push('pool'));
      return { answer: 42 };
    });
    expect(opened.answer).toBe(42);
    expect(await opened.close()).toBe(true);
    expect(await opened.close()).toBe(true);
    expect(closed).toEqual(['pool']);
  });
});
