/**
 * A CPU profile of a running Node process of the stack, taken while a load runs, without restarting it: SIGUSR1
 * opens the process's inspector on 127.0.0.1:9229, the V8 profiler samples through the DevTools protocol, and the
 * inspector is closed again. The summary (self time by package and by function) goes into the note of a missed
 * target, so the note says what the process spent its time on instead of guessing.
 * https://nodejs.org/api/debugger.html#advanced-usage
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
}

export interface NodeProfileSummary {
  process: string;
  seconds: number;
  samples: number;
  /** Share of samples by where the code lives: node_modules package, node internals, our own files, gc/idle. */
  byPackage: { name: string; share: number }[];
  /** The same with node's own code (streams, sockets, http) charged to the package that called into it. */
  byCaller: { name: string; share: number }[];
  /** The functions with the most self time. */
  topFunctions: { name: string; share: number }[];
}

const INSPECTOR = 'http://127.0.0.1:9229';

async function inspectorTargets(): Promise<{ webSocketDebuggerUrl: string; url: string }[] | undefined> {
  try {
    const response = await fetch(`${INSPECTOR}/json/list`, { signal: AbortSignal.timeout(500) });
    return (await response.json()) as { webSocketDebuggerUrl: string; url: string }[];
  } catch {
    return undefined;
  }
}

function packageOf(url: string): string {
  if (url === '') return '(native or gc)';
  if (url.startsWith('node:')) return 'node internals';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules?.[1]) return modules[1];
  const own = /\/work\/[^/]+\/((?:api|worker|core)\/[^/]+)/.exec(url) ?? /((?:api|worker|core)\/dist\/[^/]+)/.exec(url);
  return own?.[1] ? `ours: ${own[1]}` : url.replace(/^file:\/\//, '');
}

function summarize(name: string, profile: Profile): NodeProfileSummary {
  const total = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0) || 1;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  // Native functions (no script url) are charged to the nearest JavaScript caller: "writev <- Socket._writev".
  const jsCaller = (node: ProfileNode): ProfileNode | undefined => {
    let current = parentOf.get(node.id);
    for (let depth = 0; current !== undefined && depth < 50; depth += 1) {
      const parent = byId.get(current);
      if (parent && parent.callFrame.url !== '') return parent;
      current = parentOf.get(current);
    }
    return undefined;
  };
  // Node's own code (streams, http) is charged to the nearest caller outside it: pino's logging vs express' response.
  const owner = (node: ProfileNode): string => {
    let current: number | undefined = node.id;
    for (let depth = 0; current !== undefined && depth < 80; depth += 1) {
      const frame = byId.get(current)?.callFrame;
      if (frame && frame.url !== '' && !frame.url.startsWith('node:')) return packageOf(frame.url);
      current = parentOf.get(current);
    }
    return 'node internals';
  };
  const byOwner = new Map<string, number>();
  const label = (frame: CallFrame) =>
    `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const frame = node.callFrame;
    const special = frame.functionName.startsWith('(') ? frame.functionName : undefined;
    const caller = !special && frame.url === '' ? jsCaller(node) : undefined;
    const pkg = special ?? packageOf(caller ? caller.callFrame.url : frame.url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits);
    const fn = special ?? (caller ? `${frame.functionName} <- ${label(caller.callFrame)}` : label(frame));
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + hits);
    const own = special ?? owner(node);
    byOwner.set(own, (byOwner.get(own) ?? 0) + hits);
  }
  const top = (map: Map<string, number>, count: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([key, hits]) => ({ name: key, share: Math.round((hits / total) * 1000) / 1000 }));
  return {
    process: name,
    seconds: Math.round((profile.endTime - profile.startTime) / 1e5) / 10,
    samples: total,
    byPackage: top(byPackage, 8),
    byCaller: top(byOwner, 8),
    topFunctions: top(byFunction, 10),
  };
}

/**
 * Profiles process `pid` while `during` runs. Resolves to undefined (and never throws) when the inspector cannot be
 * opened, e.g. port 9229 is taken: a profile explains a result, it must not break the benchmark.
 */
export async function profileNodeProcess<T>(
  name: string,
  pid: number,
  during: () => Promise<T>,
): Promise<{ result: T; profile: NodeProfileSummary | undefined }> {
  if ((await inspectorTargets()) !== undefined) return { result: await during(), profile: undefined };
  process.kill(pid, 'SIGUSR1');
  let targets: Awaited<ReturnType<typeof inspectorTargets>>;
  for (let i = 0; i < 30 && !targets?.length; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    targets = await inspectorTargets();
  }
  const target = targets?.[0];
  if (!target) return { result: await during(), profile: undefined };

  const socket = new WebSocket(target.webSocketDebuggerUrl);
  const pending = new Map<number, (value: unknown) => void>();
  let nextId = 0;
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  });
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error('inspector connection failed')), { once: true });
  });
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((resolve) => {
      nextId += 1;
      pending.set(nextId, resolve);
      socket.send(JSON.stringify({ id: nextId, method, params }));
    });
  try {
    await send('Profiler.enable');
    await send('Profiler.setSamplingInterval', { interval: 1000 });
    await send('Profiler.start');
    const result = await during();
    const stopped = (await send('Profiler.stop')) as { profile: Profile };
    return { result, profile: summarize(name, stopped.profile) };
  } finally {
    // Close the inspector again, so the port is free and the process runs as before.
    await Promise.race([
      send('Runtime.evaluate', { expression: 'process._debugEnd && process._debugEnd()' }),
      new Promise((resolve) => setTimeout(resolve, 1_000)),
    ]);
    socket.close();
  }
}

/** "express 31%, node internals 22%, ..." for notes. */
export function describeNodeProfile(summary: NodeProfileSummary | undefined): string {
  if (!summary) return '';
  const packages = summary.byCaller.map((p) => `${p.name} ${Math.round(p.share * 100)}%`).join(', ');
  const functions = summary.topFunctions
    .slice(0, 5)
    .map((f) => `${f.name} ${Math.round(f.share * 100)}%`)
    .join('; ');
  return `V8 profile of ${summary.process} (${summary.samples} samples): by calling package ${packages}; top functions ${functions}`;
}
