// Where the CPU goes: processor time per process group (orchestrator
// instances, the reference services, PostgreSQL with all its backends) and
// how busy the whole machine was, read from /proc before and after a run.
// On a 2-core machine everything shares the cores, so a saga's CPU cost per
// group says which part to make cheaper.
//
// PostgreSQL is a tree: the postmaster's cutime/cstime hold the backends it
// has reaped, its live children are read one by one.

/** Clock ticks per second of /proc times; 100 on every Linux we run on. */
const TICKS_PER_SECOND = 100;
const ms = (ticks: number) => (ticks * 1000) / TICKS_PER_SECOND;

interface ProcTimes {
  ppid: number;
  /** utime + stime, in ticks. */
  own: number;
  /** cutime + cstime: children this process has waited for, in ticks. */
  reaped: number;
}

/**
 * Every process's times and the machine's, in one read. Deno lets a program
 * read /proc/stat and other processes' files only with --allow-all, so one
 * `cat` (--allow-run) reads them all.
 */
async function readProc(): Promise<{ procs: Map<number, ProcTimes>; machine: number[] }> {
  const out = await new Deno.Command("sh", {
    args: ["-c", "cat /proc/stat /proc/[0-9]*/stat 2>/dev/null"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const procs = new Map<number, ProcTimes>();
  let machine: number[] = [];
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    if (line.startsWith("cpu ")) {
      // cpu user nice system idle iowait irq softirq steal
      machine = line.trim().split(/\s+/).slice(1, 9).map(Number);
      continue;
    }
    const close = line.lastIndexOf(")");
    if (close < 0) continue;
    // The command name may hold spaces and parentheses: fields start after the last ")".
    const f = line.slice(close + 2).split(" ");
    const n = (i: number) => Number(f[i]);
    procs.set(Number(line.slice(0, line.indexOf(" "))), {
      ppid: n(1),
      own: n(11) + n(12),
      reaped: n(13) + n(14),
    });
  }
  return { procs, machine };
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
  const { procs, machine } = await readProc();
  const out: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups.processes)) {
    out[name] = ms(pids.reduce((sum, pid) => sum + (procs.get(pid)?.own ?? 0), 0));
  }
  for (const [name, root] of Object.entries(groups.trees)) {
    const r = procs.get(root);
    let ticks = r ? r.own + r.reaped : 0;
    for (const [pid, t] of procs) if (t.ppid === root && pid !== root) ticks += t.own;
    out[name] = ms(ticks);
  }
  const idle = (machine[3] ?? 0) + (machine[4] ?? 0);
  const total = machine.reduce((a, b) => a + b, 0);
  return { groups: out, machine: { busy: ms(total - idle), total: ms(total) } };
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
