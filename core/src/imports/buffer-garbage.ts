/**
 * Keeps a streamed file from showing up in a process's memory.
 *
 * Streaming 50 MB through a process (an upload read from the socket, chunks read back from Postgres)
 * allocates ~50 MB of Buffers that are garbage a moment later, while their JS handles are tiny: V8
 * sees almost no heap allocation, so it collects them only once external memory has grown by its
 * soft limit (64 MiB). Measured on the api during a 50 MB upload that never held more than ~1 MiB:
 * RSS +55 MiB at the peak without this, +9 MiB with it (worker/README.md, "Memory").
 *
 * So the streaming loops ask V8 for a young-generation collection (a scavenge: about a millisecond,
 * it only visits the young objects) every few MiB, which frees those Buffers while they are young.
 * `gc` is V8's own function, there only when the process allows it: the api's and the worker's
 * main.ts set --expose-gc (a process-wide flag, so the entry point decides). Without it this does
 * nothing and memory is merely collected later.
 */
import { runInNewContext } from 'node:vm';

type GcFunction = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let gc: GcFunction | null | undefined;

function resolveGc(): GcFunction | null {
  const exposed = (globalThis as { gc?: GcFunction }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    // A flag set at run time exposes `gc` to contexts created after it, not to the main one.
    const fromContext = runInNewContext('gc') as unknown;
    return typeof fromContext === 'function' ? (fromContext as GcFunction) : null;
  } catch {
    return null;
  }
}

/** Bytes streamed between two young-generation collections. */
export const YOUNG_GC_EVERY_BYTES = 4 * 1024 * 1024;

/** Returns a counter: call it with each streamed piece's size; it collects every `everyBytes`. */
export function youngGarbageCollector(everyBytes = YOUNG_GC_EVERY_BYTES): (bytes: number) => void {
  let sinceLast = 0;
  return (bytes) => {
    sinceLast += bytes;
    if (sinceLast < everyBytes) return;
    sinceLast = 0;
    gc ??= resolveGc();
    gc?.({ type: 'minor' });
  };
}
