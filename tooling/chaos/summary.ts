// The chaos run's result: what was done to the system, how the sagas ended,
// and every invariant violation (there must be none).
import { fmt, table } from "../../src/tools/text_table.ts";
import { INVARIANTS, type Violation } from "./invariants.ts";
import { CHAOS_KINDS, type ChaosKind, EXPECTED } from "./plan.ts";
import type { OutboxRow, StuckSaga } from "./ledger.ts";
import type { UnexpectedExit } from "./instances.ts";

export interface ChaosSummary {
  seed: number;
  orders: number;
  instances: number;
  /** Seconds from the first order to every saga settled (or the settle timeout). */
  durationSeconds: number;
  /** Seconds from the end of the chaos to every saga settled. */
  settleSeconds: number;
  settled: boolean;
  kills: number;
  restarts: number;
  /** Instance starts retried because the database was down while they started. */
  startRetries: number;
  dbRestarts: number;
  unexpectedExits: UnexpectedExit[];
  producer: { placed: number; cancellations: number; retriedInserts: number };
  faultsInjected: Record<string, number>;
  idempotentReplays: Record<string, number>;
  effects: Record<string, number>;
  outcomes: Record<string, number>;
  byKind: Record<ChaosKind, Record<string, number>>;
  outbox: OutboxRow[];
  stuck: StuckSaga[];
  violationCount: number;
  violations: Violation[];
  logDir: string;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
const list = (r: Record<string, number>) =>
  `${sum(r)} (${Object.entries(r).map(([k, v]) => `${k} ${v}`).join(", ")})`;

export function renderChaosSummary(s: ChaosSummary): string {
  const out: string[] = [];
  out.push("", `Chaos summary (seed ${s.seed})`, "");
  out.push(`  orders:            ${s.orders} (${s.producer.cancellations} cancellations sent)`);
  out.push(`  instances:         ${s.instances}`);
  out.push(
    `  kills (SIGKILL):   ${s.kills}, restarts ${s.restarts}` +
      (s.startRetries ? `, ${s.startRetries} start(s) retried (database down)` : ""),
  );
  out.push(`  database restarts: ${s.dbRestarts}`);
  out.push(`  producer retries:  ${s.producer.retriedInserts} inserts retried`);
  out.push(`  faults injected:   ${list(s.faultsInjected)}`);
  out.push(`  idempotent replays: ${list(s.idempotentReplays)}`);
  out.push(
    `  effects:           ${Object.entries(s.effects).map(([k, v]) => `${k} ${v}`).join(", ")}`,
  );
  out.push(
    `  duration:          ${fmt(s.durationSeconds)} s` +
      ` (settled ${fmt(s.settleSeconds)} s after the chaos${s.settled ? "" : ": TIMED OUT"})`,
  );
  out.push("");
  const statuses = ["COMPLETED", "CANCELLED", "RUNNING", "NEEDS_ATTENTION"];
  out.push(table(["status", "sagas"], statuses.map((st) => [st, s.outcomes[st] ?? 0])));
  out.push("");
  out.push(table(
    ["kind", "sagas", ...statuses, "expected"],
    CHAOS_KINDS.map((kind) => {
      const row = s.byKind[kind] ?? {};
      return [kind, sum(row), ...statuses.map((st) => row[st] ?? 0), EXPECTED[kind].join("/")];
    }),
  ));
  out.push("");
  out.push(
    table(["outbox event", "status", "events"], s.outbox.map((r) => [r.event_type, r.status, r.n])),
  );
  if (s.stuck.length) {
    out.push("", "  stuck sagas:");
    for (const st of s.stuck) {
      out.push(
        `    ${st.order_id} ${st.state} run_at ${st.run_at} lease ${st.lease_owner ?? "-"}` +
          ` until ${st.lease_until ?? "-"} pending ${JSON.stringify(st.pending)}` +
          ` last_error ${st.last_error ?? "-"}`,
      );
    }
  }
  for (const e of s.unexpectedExits) {
    out.push(`  ${e.id} exited by itself (code ${e.code}, signal ${e.signal}); log ${e.log}`);
  }
  out.push("");
  out.push(`  violations: ${s.violationCount}`);
  const byInvariant = new Map<number, Violation[]>();
  for (const v of s.violations) {
    byInvariant.set(v.invariant, [...byInvariant.get(v.invariant) ?? [], v]);
  }
  for (const [n, vs] of [...byInvariant].sort(([a], [b]) => a - b)) {
    out.push(`    ${n}. ${INVARIANTS[n] ?? ""}: ${vs.length}`);
    for (const v of vs.slice(0, 10)) out.push(`       ${v.order_id ?? ""} ${v.detail}`);
  }
  out.push(`  logs: ${s.logDir}/`);
  return out.join("\n");
}
