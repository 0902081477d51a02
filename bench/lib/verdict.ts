/**
 * A key's verdict: the ratio against its target, and when the target is missed, what limited it (the CPU profile of
 * the measurement, and a V8 profile of the busiest Node process of the stack taken while the stack side is repeated).
 */
import { describeProfile, type CpuProfile } from './cpu.ts';
import { r2, type Measured } from './measure.ts';
import { describeNodeProfile, profileNodeProcess } from './node-profile.ts';
import type { BenchKey } from './results.ts';

export interface Target {
  op: '>=' | '<=';
  value: number;
}

export function ratioKey(
  target: Target,
  stack: Measured<unknown> | undefined,
  reference: Measured<unknown> | undefined,
  ratio: number | null,
  method: string,
  explainMiss: () => string,
): BenchKey {
  const met = ratio === null ? null : target.op === '>=' ? ratio >= target.value : ratio <= target.value;
  return {
    ratio: ratio === null ? null : r2(ratio),
    target: `${target.op} ${target.value}`,
    met,
    stack: stack ? { ...stack.figures, cpu: stack.cpu } : null,
    reference: reference ? { ...reference.figures, cpu: reference.cpu } : null,
    method,
    note: met === false ? explainMiss() : '',
  };
}

/** What limited a throughput measurement, from its CPU profile. */
export function throughputLimit(label: string, cpu: CpuProfile): string {
  const busy = cpu.machineCores - cpu.idle;
  const saturated = cpu.idle < 0.15 * cpu.machineCores;
  const top = Object.entries(cpu.cores).sort((a, b) => b[1] - a[1])[0];
  const shared = [
    cpu.other >= 0.25 ? `other processes on the machine took ${cpu.other} cores` : '',
    cpu.steal >= 0.1 ? `the hypervisor took ${cpu.steal} cores (steal)` : '',
  ]
    .filter(Boolean)
    .map((text) => `; ${text}`)
    .join('');
  return (
    `${label}: ${saturated ? 'CPU-bound' : 'not CPU-bound'} (${r2(busy)} of ${cpu.machineCores} cores busy); ` +
    `profile ${describeProfile(cpu)}${top ? `; largest consumer of ours: ${top[0]}` : ''}${shared}`
  );
}

/**
 * When a target is missed, repeats the stack side (`rerun`) under a V8 profile of one Node process of the stack and
 * adds what that process spent its time on to the note.
 */
export async function explainWithProfile(
  key: BenchKey,
  target: { name: string; pid: number | undefined },
  rerun: () => Promise<unknown>,
  log: (line: string) => void,
): Promise<void> {
  if (key.met !== false || !target.pid) return;
  log(`  profiling ${target.name} to explain the missed target`);
  const { profile } = await profileNodeProcess(target.name, target.pid, rerun);
  if (!profile) return;
  key.node_profile = profile;
  const idle = profile.topFunctions.find((entry) => entry.name === '(idle)')?.share ?? 0;
  const waiting =
    idle >= 0.5
      ? ` ${target.name} was idle in ${Math.round(idle * 100)}% of the samples: it waits (on Postgres, Redis or its ` +
        `clients) rather than computes.`
      : '';
  key.note = `${key.note.replace(/\.?$/, '.')} ${describeNodeProfile(profile)}.${waiting}`;
}
