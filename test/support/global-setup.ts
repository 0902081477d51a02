/**
 * Starts one native stack for the whole test run (tools/stack/native), in a folder of its own so a developer's
 * `make native-up` stack and other test runs are untouched, and stops exactly that stack afterwards.
 * TEST_STACK_KEEP=1 leaves it running for debugging; TEST_STACK=none starts nothing.
 */
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { stackFromEnvironment } from '../../tools/stack/native/cli.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // TEST_STACK=none: run only tests that need no services (quick unit runs while developing).
  if (process.env.TEST_STACK === 'none') {
    project.provide('stackEnv', {});
    return async () => undefined;
  }
  const { stack, options } = stackFromEnvironment({
    ...process.env,
    NATIVE_DIR: join(import.meta.dirname, '..', '..', `.native-test-${process.pid}`),
    API: process.env.TEST_STACK_API ?? '2',
    WORKERS: process.env.TEST_STACK_WORKERS ?? '1',
    NATIVE_SEED: '0',
    NATIVE_FAST: '1',
  });
  const started = performance.now();
  try {
    await stack.up(options);
  } catch (error) {
    await stack.down(true).catch(() => undefined);
    throw new Error(`native test stack failed to start: ${(error as Error).message}`);
  }
  console.log(`native test stack up in ${Math.round(performance.now() - started)} ms (${stack.dir})`);
  project.provide('stackEnv', { MODE: 'native', NATIVE_DIR: stack.dir });

  return async () => {
    if (process.env.TEST_STACK_KEEP !== '1') await stack.down(true);
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    stackEnv: Record<string, string>;
  }
}
