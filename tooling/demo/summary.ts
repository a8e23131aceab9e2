// The demo's final summary: counts by status and by outcome kind, duration,
// throughput, and what the services' counters say about the effects.
import { DESCRIPTION, EXPECTED, KINDS, type OutcomeKind, type PlannedOrder } from "./plan.ts";
import { type Counts, STATUSES } from "./status.ts";
import { fmt, table } from "../../src/tools/text_table.ts";
import type { EffectReport } from "./verify.ts";

export interface SummaryInput {
  interrupted: boolean;
  planned: number;
  placed: number;
  plan: PlannedOrder[];
  counts: Counts;
  statuses: Map<string, string>;
  seconds: number;
  effects: EffectReport | undefined;
  effectsError?: string;
}

export function renderSummary(s: SummaryInput): string {
  const out: string[] = [];
  const how = s.interrupted ? "interrupted" : "finished";
  out.push("", `Summary (${how} after ${fmt(s.seconds)} s)`, "");
  out.push(`  sagas terminal: ${s.counts.terminal} of ${s.placed} placed (${s.planned} planned)`);
  out.push(
    `  throughput: ${fmt(s.seconds > 0 ? s.counts.terminal / s.seconds : 0)} sagas/s over ${
      fmt(s.seconds)
    } s`,
  );
  out.push("");
  out.push(table(["status", "sagas"], STATUSES.map((st) => [st, s.counts.byStatus[st] ?? 0])));
  out.push("");

  const byKind = new Map<OutcomeKind, Record<string, number>>();
  for (const p of s.plan) {
    const status = s.statuses.get(p.order.order_id);
    if (status === undefined) continue;
    const row = byKind.get(p.kind) ?? {};
    row[status] = (row[status] ?? 0) + 1;
    byKind.set(p.kind, row);
  }
  out.push(table(
    ["outcome kind", "sagas", ...STATUSES, "expected", "what"],
    KINDS.map((kind) => {
      const row = byKind.get(kind) ?? {};
      const total = Object.values(row).reduce((a, b) => a + b, 0);
      return [
        kind,
        total,
        ...STATUSES.map((st) => row[st] ?? 0),
        EXPECTED[kind].join("/"),
        DESCRIPTION[kind],
      ];
    }),
  ));
  out.push("");

  const e = s.effects;
  if (!e) {
    out.push(`  effects: not verified (${s.effectsError ?? "services unavailable"})`);
  } else {
    const ok = e.duplicates === 0 && e.mismatchCount === 0;
    out.push(
      `  effects verified: ${ok ? "OK" : "FAILED"} — ${e.duplicates} duplicate effects, ` +
        `${e.mismatchCount} of ${e.checked} finished sagas inconsistent with their status`,
    );
    for (const m of e.mismatches) out.push(`    ${m.order_id} ${m.status}: ${m.problem}`);
    out.push(
      `  effects: ${Object.entries(e.totals).map(([k, v]) => `${k} ${v}`).join(", ")}`,
    );
    out.push(
      `  faults injected: ${
        Object.entries(e.faultsInjected).map(([k, v]) => `${k} ${v}`).join(", ")
      }` +
        `; idempotent replays: ${
          Object.entries(e.idempotentReplays).map(([k, v]) => `${k} ${v}`).join(", ")
        }`,
    );
  }
  return out.join("\n");
}
