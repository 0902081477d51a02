/**
 * One command at a time on a stack folder: `up`, `down`, `start` and `stop` hold `<dir>/.lock` while they work. The
 * file holds the owner's PID and start time; a lock whose owner is gone is taken over (a killed `up` leaves one).
 */
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NativeStackError } from './log.ts';
import { pidRunning } from './processes.ts';

const owner = `${process.pid}`;

/**
 * True while the lock's holder runs. An empty file counts as held for two seconds (the holder may be between
 * creating and writing it), then as stale: scripts/native.sh, which this code replaced, left empty lock files.
 */
function holderAlive(path: string): boolean {
  try {
    const text = readFileSync(path, 'utf8').trim();
    if (text === '') return Date.now() - statSync(path).mtimeMs < 2_000;
    const pid = Number(text);
    return Number.isInteger(pid) && pid > 0 && pidRunning(pid);
  } catch {
    return false;
  }
}

/** Runs `work` holding the folder's lock; waits up to `seconds` for another holder. Reentrant within a process. */
export async function withStackLock<T>(dir: string, work: () => Promise<T>, seconds = 300): Promise<T> {
  const path = join(dir, '.lock');
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      writeFileSync(path, owner, { flag: 'wx' });
      break;
    } catch {
      const current = (() => {
        try {
          return readFileSync(path, 'utf8').trim();
        } catch {
          return '';
        }
      })();
      if (current === owner) return work(); // this process already holds it (up restarting a process)
      if (!holderAlive(path)) rmSync(path, { force: true });
      else if (Date.now() > deadline) {
        throw new NativeStackError(`another command (pid ${current}) holds ${path}`);
      } else await sleep(100);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(path, { force: true });
  }
}
