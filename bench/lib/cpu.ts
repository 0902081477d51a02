/**
 * Where the cores went during a measurement: CPU seconds per role (api, nginx, postgres, load generator, the
 * reference under test, everything else on the machine) from /proc, before and after. This is the profile each
 * result carries, so a missed target is explained by measurement ("2 cores busy: api 1.3, postgres 0.4") and a
 * shared, noisy machine shows up as "other".
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface ProcSample {
  ppid: number;
  comm: string;
  ticks: number;
}

function readProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return { ppid: Number(fields[1]), comm, ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** CPU ticks of this process's children that have exited and been reaped (cutime + cstime): the load generators. */
function reapedChildTicks(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[13]) + Number(fields[14]);
}

function snapshot(): Map<number, ProcSample> {
  const all = new Map<number, ProcSample>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const sample = readProc(Number(entry));
    if (sample) all.set(Number(entry), sample);
  }
  return all;
}

/**
 * Ticks of the whole machine by kind (/proc/stat, first line: user nice system idle iowait irq softirq steal ...).
 * Interrupt work (mostly loopback networking at these rates) and time the hypervisor gave to other guests (steal)
 * belong to no process, so they are counted apart from "other processes".
 */
function machineTicks(): { busy: number; total: number; interrupts: number; steal: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  // guest and guest_nice (fields 9, 10) are already included in user and nice.
  const total = values.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total, interrupts: (values[5] ?? 0) + (values[6] ?? 0), steal: values[7] ?? 0 };
}

/** Root PIDs per role; a process belongs to the role of its nearest listed ancestor (itself included). */
export type Roles = Record<string, readonly number[]>;

export interface CpuProfile {
  seconds: number;
  /** Cores used on average per role over the window (1.0 = one core busy all the time). */
  cores: Record<string, number>;
  /** Cores used by processes outside every role: other work on the machine (or short-lived helpers). */
  other: number;
  /** The busiest of those other processes (kernel threads included), by command name. */
  otherTop: { name: string; cores: number }[];
  /** Cores spent in interrupt handling (softirq: mostly loopback TCP between the load generator and servers). */
  interrupts: number;
  /** Cores the hypervisor gave to other guests while this one wanted them. */
  steal: number;
  /** Cores left idle. */
  idle: number;
  machineCores: number;
}

export interface CpuRecorder {
  stop(): CpuProfile;
}

export function startCpuProfile(roles: () => Roles, machineCores: number): CpuRecorder {
  const before = snapshot();
  const machineBefore = machineTicks();
  const reapedBefore = reapedChildTicks();
  const started = performance.now();
  return {
    stop(): CpuProfile {
      const after = snapshot();
      const machineAfter = machineTicks();
      const seconds = (performance.now() - started) / 1000;
      const roleOf = new Map<number, string>();
      for (const [role, pids] of Object.entries(roles())) for (const pid of pids) roleOf.set(pid, role);
      const resolve = (pid: number): string | undefined => {
        let current: number | undefined = pid;
        for (let depth = 0; current !== undefined && current > 1 && depth < 64; depth += 1) {
          const role = roleOf.get(current);
          if (role) return role;
          current = after.get(current)?.ppid ?? before.get(current)?.ppid;
        }
        return undefined;
      };
      const ticksByRole = new Map<string, number>();
      // wrk, vegeta and pgbench run as our children and have exited by now: their CPU is in our cutime/cstime.
      let attributed = reapedChildTicks() - reapedBefore;
      if (attributed > 0) ticksByRole.set('loadgen', attributed);
      const unattributed = new Map<string, number>();
      for (const [pid, sample] of after) {
        const delta = sample.ticks - (before.get(pid)?.ticks ?? 0);
        if (delta <= 0) continue;
        const role = resolve(pid);
        if (!role) {
          // Kernel threads and other programs, by name (ksoftirqd/0 and kworker/1:2 become ksoftirqd and kworker).
          const name = sample.comm.replace(/[/:].*$/, '');
          unattributed.set(name, (unattributed.get(name) ?? 0) + delta);
          continue;
        }
        ticksByRole.set(role, (ticksByRole.get(role) ?? 0) + delta);
        attributed += delta;
      }
      const perCore = (ticks: number) => Math.round((ticks / TICKS_PER_SECOND / seconds) * 100) / 100;
      const busy = machineAfter.busy - machineBefore.busy;
      const total = machineAfter.total - machineBefore.total;
      const cores: Record<string, number> = {};
      for (const [role, ticks] of [...ticksByRole].sort((a, b) => b[1] - a[1])) cores[role] = perCore(ticks);
      // /proc/stat counts in the same USER_HZ ticks, summed over all cores.
      const busyCores = total > 0 ? (busy / total) * machineCores : 0;
      const share = (ticks: number) => (total > 0 ? (ticks / total) * machineCores : 0);
      const interrupts = share(machineAfter.interrupts - machineBefore.interrupts);
      const steal = share(machineAfter.steal - machineBefore.steal);
      const attributedCores = attributed / TICKS_PER_SECOND / seconds;
      const round = (value: number) => Math.max(0, Math.round(value * 100) / 100);
      return {
        seconds: Math.round(seconds * 10) / 10,
        cores,
        other: round(busyCores - attributedCores - interrupts - steal),
        otherTop: [...unattributed]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 4)
          .map(([name, ticks]) => ({ name, cores: perCore(ticks) }))
          .filter((entry) => entry.cores >= 0.01),
        interrupts: round(interrupts),
        steal: round(steal),
        idle: Math.max(0, Math.round((machineCores - busyCores) * 100) / 100),
        machineCores,
      };
    },
  };
}

/** One line for notes: "api 1.21, postgres 0.42, loadgen 0.2, other 0.05, idle 0.02 of 2 cores". */
export function describeProfile(profile: CpuProfile): string {
  const parts = Object.entries(profile.cores)
    .filter(([, cores]) => cores >= 0.01)
    .map(([role, cores]) => `${role} ${cores}`);
  const top = profile.otherTop.map((entry) => `${entry.name} ${entry.cores}`).join(', ');
  parts.push(
    `interrupts ${profile.interrupts}`,
    `steal ${profile.steal}`,
    `other processes ${profile.other}${top ? ` (${top})` : ''}`,
    `idle ${profile.idle}`,
  );
  return `${parts.join(', ')} (cores, of ${profile.machineCores})`;
}
