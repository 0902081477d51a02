/**
 * Process bookkeeping of a native stack: start a program detached with a PID file, and find, signal and wait for
 * exactly that program later. This module is the only reader of the stack's PID files (`run/<name>.pid`).
 *
 * A process is "ours" only when all of these hold, so a recycled PID is never signalled:
 *   - run/<name>.pid names a live, non-zombie PID,
 *   - its start time (field 22 of /proc/<pid>/stat) equals the one recorded in run/<name>.start at launch,
 *   - its command line contains the text recorded in run/<name>.match.
 * Every launched program leads its own session and process group (spawn's `detached`, which calls setsid), so it
 * outlives the command that started it, is untouched by that command's Ctrl-C, and a KILL can reach its children
 * too (nginx workers).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { log, warn } from './log.ts';

/** How a process is (re)started: the native stack writes one per process at `up`; `start NAME` runs it again. */
export interface LaunchSpec {
  command: string;
  args: string[];
  /** Set on top of the environment of whoever starts it (so LOG_LEVEL and the like can be passed in). */
  env: Record<string, string>;
  /** Variables removed from the inherited environment (a `*_FILE` twin would conflict with the value given). */
  unset: string[];
  /** A piece of the program's command line; a PID whose command line lacks it is not ours. */
  match: string;
  /** The program's stdout, when it is not its log (nginx: the JSON access log). */
  stdout?: string;
}

export type Signal = NodeJS.Signals;

/** Fields of /proc/<pid>/stat, 1-based as in proc(5) (index 0 unused); undefined when the PID does not exist. */
function statFields(pid: number): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 (comm) may contain spaces and parentheses: split what follows its last ')'.
  const rest = stat
    .slice(stat.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
  return ['', String(pid), '', ...rest];
}

/** True when the PID exists and is not a zombie. */
export function pidRunning(pid: number): boolean {
  const state = statFields(pid)?.[3];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

const startTime = (pid: number): string | undefined => statFields(pid)?.[22];

function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return undefined;
  }
}

/** PIDs (zombies left out) whose process group is `pgid`. */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields?.[5] === String(pgid) && fields[3] !== 'Z' && fields[3] !== 'X') members.push(Number(entry));
  }
  return members;
}

function signal(pid: number, sig: Signal | 0): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Waits until the PID and every member of its process group have exited; false after `seconds`. */
export async function waitGone(pid: number, seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  const gone = () => !pidRunning(pid) && groupMembers(pid).length === 0;
  while (Date.now() < deadline) {
    if (gone()) return true;
    await sleep(100);
  }
  return gone();
}

/** SIGKILL to the process group the PID leads (launched processes do), else to the PID alone. */
function killGroup(pid: number): void {
  if (statFields(pid)?.[5] === String(pid)) signal(-pid, 'SIGKILL');
  else signal(pid, 'SIGKILL');
}

export class ProcessTable {
  readonly runDir: string;
  readonly logDir: string;
  readonly repo: string;

  constructor(dir: string, repo: string) {
    this.runDir = join(dir, 'run');
    this.logDir = join(dir, 'logs');
    this.repo = repo;
  }

  /** The PID of our live process `name`, or undefined when it is not running (or the PID is no longer ours). */
  pidOf(name: string): number | undefined {
    const read = (suffix: string) => {
      try {
        return readFileSync(join(this.runDir, `${name}.${suffix}`), 'utf8').trim();
      } catch {
        return '';
      }
    };
    const pid = Number(read('pid').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || !pidRunning(pid)) return undefined;
    const start = read('start');
    if (start !== '' && startTime(pid) !== start) return undefined;
    const match = read('match');
    if (match !== '' && !(commandLine(pid) ?? '').includes(match)) return undefined;
    return pid;
  }

  /** Names that have a PID file (a failed `up` may have stopped before writing stack.env). */
  recordedNames(): string[] {
    try {
      return readdirSync(this.runDir)
        .filter((file) => file.endsWith('.pid'))
        .map((file) => file.slice(0, -'.pid'.length));
    } catch {
      return [];
    }
  }

  /** Records a process started another way (Postgres: pg_ctl forks the postmaster). */
  record(name: string, pid: number, match: string): void {
    writeFileSync(join(this.runDir, `${name}.pid`), `${pid}\n`);
    writeFileSync(join(this.runDir, `${name}.start`), startTime(pid) ?? '');
    writeFileSync(join(this.runDir, `${name}.match`), match);
  }

  forget(name: string): void {
    for (const suffix of ['pid', 'start', 'match']) rmSync(join(this.runDir, `${name}.${suffix}`), { force: true });
  }

  forgetAll(): void {
    for (const name of this.recordedNames()) this.forget(name);
  }

  /** Where a process's stderr goes: logs/<name>.log (nginx: logs/nginx.stderr.log; its stdout is the access log). */
  logFile(name: string): string {
    return join(this.logDir, name === 'nginx' ? 'nginx.stderr.log' : `${name}.log`);
  }

  /** Starts the program detached, its output appended to its log, and records it as ours. */
  launch(name: string, spec: LaunchSpec, extraEnv: Record<string, string> = {}): number {
    const logPath = this.logFile(name);
    this.forget(name);
    writeFileSync(logPath, `=== ${name} started by the native stack at ${new Date().toISOString()}\n`, { flag: 'a' });
    const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv, ...spec.env };
    for (const key of spec.unset) delete env[key];
    const err = openSync(logPath, 'a');
    const out = spec.stdout ? openSync(spec.stdout, 'a') : err;
    try {
      const child = spawn(spec.command, spec.args, {
        cwd: this.repo,
        env,
        detached: true,
        stdio: ['ignore', out, err],
      });
      child.on('error', () => undefined); // reported below as "did not start"
      child.unref();
      if (child.pid === undefined)
        throw new Error(`${name} did not start (${spec.command} not found?); see ${logPath}`);
      this.record(name, child.pid, spec.match);
      return child.pid;
    } finally {
      if (out !== err) closeSync(out);
      closeSync(err);
    }
  }

  /**
   * Stops our process `name`:
   *   SIGTERM, SIGINT, SIGQUIT: send it, wait up to `timeoutSeconds` for the program to exit, then SIGKILL its group;
   *   SIGKILL: the whole process group at once (as a container kill would), and wait for it to be gone;
   *   any other signal (SIGSTOP, SIGCONT, SIGHUP...): send it to the program and return.
   */
  async stop(name: string, sig: Signal = 'SIGTERM', timeoutSeconds = 20): Promise<void> {
    const pid = this.pidOf(name);
    if (pid === undefined) {
      log(`${name} is not running`);
      this.reapOrphans(name);
      this.forget(name);
      return;
    }
    if (sig === 'SIGKILL') {
      log(`${name} (pid ${pid}): SIGKILL to its process group`);
      killGroup(pid);
      if (!(await waitGone(pid, 10))) warn(`${name} (pid ${pid}) still present after SIGKILL`);
    } else if (sig === 'SIGTERM' || sig === 'SIGINT' || sig === 'SIGQUIT') {
      log(`${name} (pid ${pid}): ${sig}, waiting up to ${timeoutSeconds}s`);
      signal(pid, sig);
      if (!(await waitGone(pid, timeoutSeconds))) {
        warn(`${name} (pid ${pid}) did not exit within ${timeoutSeconds}s; SIGKILL`);
        killGroup(pid);
        if (!(await waitGone(pid, 10))) warn(`${name} (pid ${pid}) still present after SIGKILL`);
      }
    } else {
      log(`${name} (pid ${pid}): ${sig}`);
      if (!signal(pid, sig)) throw new Error(`${name} (pid ${pid}): ${sig} failed`);
      return;
    }
    this.forget(name);
  }

  /**
   * When a leader died on its own (an nginx master crashed), SIGKILLs what is left of its group. Only when no process
   * has the recorded PID: Linux does not reuse a PID while it names a process group, so its members are ours.
   */
  private reapOrphans(name: string): void {
    const path = join(this.runDir, `${name}.pid`);
    if (!existsSync(path)) return;
    const pid = Number(readFileSync(path, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0 || existsSync(`/proc/${pid}`)) return;
    const members = groupMembers(pid);
    if (members.length === 0) return;
    log(`${name}: SIGKILL to the processes its dead leader (pid ${pid}) left: ${members.join(' ')}`);
    signal(-pid, 'SIGKILL');
  }

  /** The last lines of a process's log, indented, for an error message. */
  logTail(name: string, lines = 25): string {
    return tailOf(this.logFile(name), lines);
  }
}

export function tailOf(path: string, lines = 25): string {
  try {
    const tail = readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines);
    return `  --- last lines of ${path} ---\n${tail.map((line) => `  | ${line}`).join('\n')}`;
  } catch {
    return '';
  }
}
