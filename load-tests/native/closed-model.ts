/**
 * Closed-model phases with wrk: N connections, each sending a request drawn from the same mix and waiting a think
 * time before the next. wrk measures the phase as a whole (throughput and latency), not per request type.
 */
import { mkdir } from 'node:fs/promises';
import type { PlannedRequest } from '../lib/workload-core.js';
import type { RequestDraws, RunContext } from './context.ts';
import { luaString, runWrk, threadsLua, type WrkResult } from './wrk.ts';

export interface ClosedPhase {
  name: string;
  vus: number;
  seconds: number;
  thinkTimeMs: number;
}

/** Requests a phase draws up front; wrk's threads pick among them at random. */
const DRAWN_PER_PHASE = 5_000;

/**
 * One closed-model phase: `vus` connections, the think time uniform between half and one and a half times
 * thinkTimeMs. Idempotency keys are made per request in Lua, so replays never stand in for new orders.
 */
export async function runClosedPhase(context: RunContext, draws: RequestDraws, phase: ClosedPhase): Promise<WrkResult> {
  await mkdir(context.workDir, { recursive: true });
  const lua = closedPhaseLua(draws.next(DRAWN_PER_PHASE), phase.thinkTimeMs, context.runId, draws.seed);
  context.log?.(`  ${phase.name}: ${phase.vus} users, think time ~${phase.thinkTimeMs} ms, ${phase.seconds}s (wrk)`);
  return runWrk({
    url: context.baseUrl,
    connections: phase.vus,
    threads: 2,
    seconds: phase.seconds,
    lua,
    workDir: context.workDir,
    name: phase.name,
    ...(context.timeoutSeconds ? { timeoutSeconds: context.timeoutSeconds } : {}),
  });
}

/** The wrk script: the drawn requests (prebuilt unless they need a fresh idempotency key) and the think time. */
function closedPhaseLua(planned: readonly PlannedRequest[], thinkTimeMs: number, runId: string, seed: number): string {
  const entries = planned.map((request) => {
    const headers = Object.entries(request.headers)
      .filter(([name]) => name !== 'Idempotency-Key')
      .map(([name, value]) => `[${luaString(name)}]=${luaString(value)}`)
      .join(',');
    const dynamic = request.headers['Idempotency-Key'] !== undefined;
    const body = request.body === null ? 'nil' : luaString(request.body);
    return `{${luaString(request.method)},${luaString(request.path)},{${headers}},${body},${dynamic}}`;
  });
  const prebuild = `  for i, e in ipairs(entries) do
    if not e[5] then prebuilt[i] = wrk.format(e[1], e[2], e[3], e[4]) end
  end`;
  return `
local entries = {
${entries.join(',\n')}
}
local counter = 0
local prebuilt = {}
${threadsLua(seed, prebuild)}
request = function()
  counter = counter + 1
  local i = math.random(#entries)
  local e = entries[i]
  if not e[5] then return prebuilt[i] end
  local headers = {}
  for k, v in pairs(e[3]) do headers[k] = v end
  headers["Idempotency-Key"] = "lt-${runId}-w" .. thread_id .. "-" .. counter
  return wrk.format(e[1], e[2], headers, e[4])
end
delay = function()
  return ${Math.round(thinkTimeMs / 2)} + math.random(0, ${thinkTimeMs})
end
`;
}
