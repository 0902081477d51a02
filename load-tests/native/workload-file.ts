/** Reads load-tests/workload.json, the one definition of the workload (k6 reads it with open()). */
import { readFile } from 'node:fs/promises';
import type { Workload } from '../lib/workload-core.js';
import { workloadFile } from './paths.ts';

export async function loadWorkload(path = workloadFile): Promise<Workload> {
  return JSON.parse(await readFile(path, 'utf8')) as Workload;
}
