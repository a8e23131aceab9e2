// Reads the profiles tooling/bench/profile.ts records and says where the
// time or the memory went: by library (xstate, postgres.js, our src/ files,
// the runtime's own code, GC) and by function. Pure: text in, lines out.

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

/** A V8 CPU profile (.cpuprofile), as `deno run --cpu-prof` writes it. */
interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** A sampling heap profile (HeapProfiler.stopSampling's `profile`). */
interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children?: HeapNode[];
}

/** Where a frame's code comes from. */
export function category(frame: CallFrame): string {
  const { url, functionName: name } = frame;
  if (name === "(garbage collector)") return "GC";
  if (name === "(program)" || name === "(root)") return "(program)";
  for (const lib of ["xstate", "postgres", "pino", "prom-client", "opentelemetry", "hono", "zod"]) {
    if (url.includes(`/${lib}@`) || url.includes(`/@${lib}/`)) return lib;
  }
  if (url.startsWith("ext:deno_node") || url.startsWith("node:")) return "runtime: node compat";
  if (url.startsWith("ext:")) return "runtime";
  if (url === "") return `native: ${name}`;
  const src = url.indexOf("/src/");
  if (src >= 0) return `ours: src/${url.slice(src + 5)}`;
  if (url.includes("/machines/")) return "ours: machines/";
  return url.split("/").slice(-2).join("/");
}

function label(frame: CallFrame): string {
  const file = frame.url.split("/").pop() || "(native)";
  return `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
}

function top(totals: Map<string, number>, n: number): [string, number][] {
  return [...totals].sort((a, b) => b[1] - a[1]).slice(0, n);
}

function add(totals: Map<string, number>, key: string, value: number): void {
  totals.set(key, (totals.get(key) ?? 0) + value);
}

/**
 * Self time by category and by function, in per cent of the samples that
 * were not idle. The profiler samples the main thread's wall clock: a
 * native call that waits is counted as if it ran, and V8's helper threads
 * (concurrent GC) are not seen at all; `perf` tells CPU apart.
 */
export function summariseCpu(profile: CpuProfile, functions = 30): string[] {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  );
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    if (us === 0 || node.callFrame.functionName === "(idle)") continue;
    total += us;
    add(byCategory, category(node.callFrame), us);
    add(byFunction, label(node.callFrame), us);
  }
  const pct = (us: number) => `${(100 * us / total).toFixed(1).padStart(5)} %`;
  return [
    `CPU profile: ${(total / 1000).toFixed(0)} ms of samples not idle`,
    ...top(byCategory, 25).map(([k, us]) => `${pct(us)}  ${k}`),
    "by function:",
    ...top(byFunction, functions).map(([k, us]) => `${pct(us)}  ${k}`),
  ];
}

/**
 * Bytes allocated per saga by category (the nearest frame of a library or of
 * src/ on the allocating stack) and by allocating function. Sampled with
 * objects collected by GC included, so this is allocation, not what stays.
 */
export function summariseHeap(head: HeapNode, sagas: number, functions = 30): string[] {
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode, stack: CallFrame[]) => {
    const frames = [...stack, node.callFrame];
    if (node.selfSize > 0) {
      total += node.selfSize;
      add(byFunction, label(node.callFrame), node.selfSize);
      const owner = frames.findLast((f) => {
        const c = category(f);
        return c !== "runtime" && c !== "runtime: node compat" && !c.startsWith("native:") &&
          c !== "(program)";
      });
      add(byCategory, owner ? category(owner) : "runtime", node.selfSize);
    }
    for (const child of node.children ?? []) walk(child, frames);
  };
  walk(head, []);
  const kb = (bytes: number) => `${(bytes / sagas / 1024).toFixed(1).padStart(6)} KB`;
  return [
    `Allocated: ${(total / sagas / 1024).toFixed(1)} KB per saga`,
    ...top(byCategory, 20).map(([k, b]) => `${kb(b)}  ${k}`),
    "by allocating function:",
    ...top(byFunction, functions).map(([k, b]) => `${kb(b)}  ${k}`),
  ];
}
