// One row of the benchmark's table: a figure's median and min–max.
import { fmt } from "../../src/tools/text_table.ts";
import type { Spread } from "./stats.ts";

export function row(label: string, s: Spread, unit: string, digits = 1): string[] {
  const range = s.runs.length > 1 ? `${fmt(s.min, digits)}–${fmt(s.max, digits)}` : "—";
  return [label, fmt(s.median, digits), range, unit];
}
