/**
 * Starts one native stack for the whole test run (scripts/native.sh), in a folder of its own so a
 * developer's `make native-up` stack and other test runs are untouched, and stops exactly that
 * stack afterwards. TEST_STACK_KEEP=1 leaves it running for debugging; TEST_STACK=none starts nothing.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
// The one reader of stack.env, shared with the benchmark and the native load-test runner.
import { readEnvFile } from '../../load-tests/native/run.ts';
import { repoRoot as repo, runNative } from './native.js';

const native = (args: string[], env: NodeJS.ProcessEnv) => runNative(args, env);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // TEST_STACK=none: run only tests that need no services (quick unit runs while developing).
  if (process.env.TEST_STACK === 'none') {
    project.provide('stackEnv', {});
    return async () => undefined;
  }
  const nativeDir = join(repo, `.native-test-${process.pid}`);
  const env = {
    ...process.env,
    NATIVE_DIR: nativeDir,
    API: process.env.TEST_STACK_API ?? '2',
    WORKERS: process.env.TEST_STACK_WORKERS ?? '1',
    NATIVE_SEED: '0',
    NATIVE_FAST: '1',
  };
  const started = performance.now();
  try {
    await native(['up'], env);
  } catch (error) {
    await native(['down', '--purge'], env).catch(() => undefined);
    throw new Error(`native test stack failed to start: ${(error as Error).message}`);
  }
  console.log(`native test stack up in ${Math.round(performance.now() - started)} ms (${nativeDir})`);
  project.provide('stackEnv', readEnvFile(join(nativeDir, 'stack.env')));

  return async () => {
    if (process.env.TEST_STACK_KEEP === '1') return;
    await native(['down', '--purge'], env);
    rmSync(nativeDir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    stackEnv: Record<string, string>;
  }
}
