// The benchmark's phases as the progress line shows them: "[3/14] label ·
// run 2/3 · detail". Each figure is one phase, measured once per repeat.
import type { ProgressLine } from "../cluster/progress.ts";

export interface Phases {
  /** Runs `fn` once per repeat, as the next numbered phase. */
  repeat<T>(label: string, fn: (run: number) => Promise<T>): Promise<T[]>;
  /** Shows where the current phase's run is. */
  status(label: string, run: number, detail?: string): void;
  /** A line between phases (an installation, a seeding). */
  log(line: string): void;
  /** The status line outside any phase. */
  update(line: string): void;
}

export function createPhases(progress: ProgressLine, repeats: number, total: number): Phases {
  let phase = 0;
  const status = (label: string, run: number, detail = "") =>
    progress.update(
      `[${phase}/${total}] ${label} · run ${run}/${repeats}${detail ? ` · ${detail}` : ""}`,
    );
  return {
    status,
    async repeat(label, fn) {
      phase++;
      const started = performance.now();
      const out = [];
      for (let run = 1; run <= repeats; run++) {
        status(label, run);
        out.push(await fn(run));
      }
      progress.log(`✓ ${label} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
      return out;
    },
    log: (line) => progress.log(line),
    update: (line) => progress.update(line),
  };
}
