// Where the CPU goes: processor time per process group (orchestrator
// instances, the reference services, PostgreSQL with all its backends) and
// how busy the whole machine was, read from /proc before and after a run.
// On a 2-core machine everything shares the cores, so a saga's CPU cost per
// group says which part to make cheaper.
//
// PostgreSQL is a tree: the postmaster's cutime/cstime hold the backends it
// has reaped, its live children are read one by one.
import { readProcFile } from "../demo/processes.ts";

/** Clock ticks per second of /proc times; 100 on every Linux we run on. */
const TICKS_PER_SECOND = 100;

interface ProcTimes {
  ppid: number;
  /** utime + stime, in ticks. */
  own: number;
  /** cutime + cstime: children this process has waited for, in ticks. */
  reaped: number;
}

function procTimes(pid: number): ProcTimes | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined; // gone
  }
  // The command name may hold spaces and parentheses: fields start after the last ")".
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const n = (i: number) => Number(f[i]);
  return { ppid: n(1), own: n(11) + n(12), reaped: n(13) + n(14) };
}

/** One process's own CPU, in milliseconds (0 when it is gone). */
function processMs(pid: number): number {
  const t = procTimes(pid);
  return t ? (t.own * 1000) / TICKS_PER_SECOND : 0;
}

/** A process and all its children, live or reaped, in milliseconds. */
function treeMs(rootPid: number): number {
  const root = procTimes(rootPid);
  if (!root) return 0;
  let ticks = root.own + root.reaped;
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || pid === rootPid) continue;
    const t = procTimes(pid);
    if (t?.ppid === rootPid) ticks += t.own;
  }
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** Busy and total CPU time of the whole machine (all cores), in milliseconds. */
async function machineMs(): Promise<{ busy: number; total: number }> {
  // Deno reads /proc/stat only with --allow-all; `cat` needs just --allow-run.
  const line = (await readProcFile("/proc/stat")).split("\n")[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const idle = v[3]! + v[4]!;
  const total = v.reduce((a, b) => a + b, 0);
  return {
    busy: ((total - idle) * 1000) / TICKS_PER_SECOND,
    total: (total * 1000) / TICKS_PER_SECOND,
  };
}

export interface CpuGroups {
  /** Process ids whose own CPU counts for the group. */
  processes: Record<string, number[]>;
  /** Process trees (PostgreSQL: the postmaster). */
  trees: Record<string, number>;
}

export type CpuReading = {
  groups: Record<string, number>;
  machine: { busy: number; total: number };
};

export async function readCpu(groups: CpuGroups): Promise<CpuReading> {
  const out: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups.processes)) {
    out[name] = pids.reduce((sum, pid) => sum + processMs(pid), 0);
  }
  for (const [name, pid] of Object.entries(groups.trees)) out[name] = treeMs(pid);
  return { groups: out, machine: await machineMs() };
}

export interface CpuCost {
  /** Milliseconds of CPU per saga, by group. */
  msPerSaga: Record<string, number>;
  /** Share of all cores that was busy during the run (0..1). */
  machineBusy: number;
}

export function cpuPerSaga(before: CpuReading, after: CpuReading, sagas: number): CpuCost {
  const msPerSaga: Record<string, number> = {};
  for (const name of Object.keys(after.groups)) {
    msPerSaga[name] = ((after.groups[name] ?? 0) - (before.groups[name] ?? 0)) / sagas;
  }
  const total = after.machine.total - before.machine.total;
  return {
    msPerSaga,
    machineBusy: total > 0 ? (after.machine.busy - before.machine.busy) / total : 0,
  };
}
