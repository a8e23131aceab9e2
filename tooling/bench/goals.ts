// The goals for a figure: a bound on its median, met or not. Reported,
// never asserted: a goal missed is a finding, not a failed benchmark.
export interface Goal {
  bound: "atMost" | "atLeast";
  limit: number;
  met: boolean;
}

export const atMost = (value: number, limit: number): Goal => ({
  bound: "atMost",
  limit,
  met: value <= limit,
});

export const atLeast = (value: number, limit: number): Goal => ({
  bound: "atLeast",
  limit,
  met: value >= limit,
});

/** "goal ≤ 1.2: met" */
export function goalText(g: Goal, unit = ""): string {
  return `goal ${g.bound === "atMost" ? "≤" : "≥"} ${g.limit}${unit}: ${g.met ? "met" : "NOT met"}`;
}
