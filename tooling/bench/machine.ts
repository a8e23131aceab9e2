// What the benchmark ran on: CPU model, cores, memory, versions.
import { readProcFile } from "../cluster/mod.ts";

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  deno: string;
  postgres?: string;
  /** 1-minute load average when the run started and ended: other work on the machine skews figures. */
  loadAverageBefore?: number;
  loadAverageAfter?: number;
}

export async function loadAverage(): Promise<number> {
  const text = await readProcFile("/proc/loadavg").catch(() => "");
  return Number(text.split(" ")[0] ?? NaN);
}

export async function describeMachine(): Promise<Machine> {
  const cpuinfo = await readProcFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await readProcFile("/proc/meminfo").catch(() => "");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const memKb = Number(/^MemTotal:\s*(\d+) kB/m.exec(meminfo)?.[1] ?? NaN);
  return {
    cpuModel: model,
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round((memKb / 1024 / 1024) * 10) / 10,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    deno: Deno.version.deno,
  };
}

/** Resident and peak resident memory of a process, in MiB (VmRSS, VmHWM). */
export async function residentMemory(pid: number): Promise<{ rssMiB: number; hwmMiB: number }> {
  const status = await readProcFile(`/proc/${pid}/status`);
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s*(\\d+) kB`, "m").exec(status)?.[1]);
  return { rssMiB: kb("VmRSS") / 1024, hwmMiB: kb("VmHWM") / 1024 };
}
