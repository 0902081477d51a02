import { join } from 'node:path';

/** The repository root (this file is load-tests/native/paths.ts). */
export const repoRoot = join(import.meta.dirname, '..', '..');
export const workloadFile = join(repoRoot, 'load-tests', 'workload.json');
