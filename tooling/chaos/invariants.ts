// The invariants a chaos run must end with, checked from the ledger and from
// the reference services' own records (effect counts and the effect log).
import type { EffectLogEntry, ServiceStats } from "../reference_services/mod.ts";
import type { FinalState } from "./ledger.ts";

export interface Violation {
  /** Which one: a key of INVARIANTS. */
  invariant: number;
  order_id?: string;
  detail: string;
}

export const INVARIANTS: Record<number, string> = {
  1: "every saga terminal (COMPLETED or CANCELLED)",
  2: "no outbox event PENDING or DEAD; one ledger row per order",
  3: "no effect happened twice",
  4: "COMPLETED: created, reserved, captured, confirmed once; nothing undone",
  5: "CANCELLED: nothing captured, reservation released, order cancelled, authorization voided",
  6: "effects in saga order; compensation newest first, void last",
  7: "no instance exits by itself; SIGTERM exits 0",
};

type Effects = Record<string, number>;

function effectsByOrder(stats: ServiceStats[]): Map<string, Effects> {
  const out = new Map<string, Effects>();
  for (const s of stats) {
    for (const [orderId, perOrder] of Object.entries(s.effects)) {
      out.set(orderId, { ...out.get(orderId), ...perOrder } as Effects);
    }
  }
  return out;
}

function logByOrder(stats: ServiceStats[]): Map<string, EffectLogEntry[]> {
  const out = new Map<string, EffectLogEntry[]>();
  for (const entry of stats.flatMap((s) => s.log ?? [])) {
    const list = out.get(entry.order_id) ?? [];
    list.push(entry);
    out.set(entry.order_id, list);
  }
  for (const list of out.values()) list.sort((a, b) => a.at - b.at);
  return out;
}

/** Pairs (a, b) where effect a must happen before effect b, when both happened. */
const BEFORE: Array<[string, string]> = [
  ["created", "reserved"],
  ["reserved", "captured"],
  ["captured", "confirmed"],
  // Compensation: after what it undoes, newest first, the authorization last.
  ["reserved", "released"],
  ["created", "cancelled"],
  ["released", "cancelled"],
  ["released", "voided"],
  ["cancelled", "voided"],
];

export function checkInvariants(
  orderIds: string[],
  final: FinalState,
  stats: ServiceStats[],
): Violation[] {
  const v: Violation[] = [];
  const statusOf = new Map<string, string>();
  const rowsPerOrder = new Map<string, number>();
  for (const row of final.ledger) {
    statusOf.set(row.order_id, row.status);
    rowsPerOrder.set(row.order_id, (rowsPerOrder.get(row.order_id) ?? 0) + 1);
    if (row.status !== "COMPLETED" && row.status !== "CANCELLED") {
      v.push({
        invariant: 1,
        order_id: row.order_id,
        detail: `${row.status} in ${row.state}: ${row.last_error ?? "(no last_error)"}`,
      });
    }
  }

  const planned = new Set(orderIds);
  for (const id of orderIds) {
    const n = rowsPerOrder.get(id) ?? 0;
    if (n !== 1) v.push({ invariant: 2, order_id: id, detail: `${n} ledger rows` });
  }
  for (const id of rowsPerOrder.keys()) {
    if (!planned.has(id)) v.push({ invariant: 2, order_id: id, detail: "ledger row of no order" });
  }
  for (const e of final.unsettledEvents) {
    v.push({
      invariant: 2,
      order_id: e.order_id,
      detail: `outbox event ${e.id} (${e.event_type}) ${e.status} after ${e.attempts} attempts: ${
        e.last_error ?? "-"
      }`,
    });
  }

  const effects = effectsByOrder(stats);
  for (const [orderId, e] of effects) {
    const twice = Object.entries(e).filter(([, n]) => n > 1);
    if (twice.length) {
      v.push({
        invariant: 3,
        order_id: orderId,
        detail: twice.map(([k, n]) => `${k} ×${n}`).join(", "),
      });
    }
  }

  for (const [orderId, status] of statusOf) {
    const e = effects.get(orderId) ?? {};
    const n = (k: string) => e[k] ?? 0;
    if (status === "COMPLETED") {
      const missing = ["created", "reserved", "captured", "confirmed"].filter((k) => n(k) !== 1);
      const undone = ["released", "cancelled", "voided"].filter((k) => n(k) > 0);
      if (missing.length) {
        v.push({ invariant: 4, order_id: orderId, detail: `not once: ${missing.join(", ")}` });
      }
      if (undone.length) {
        v.push({ invariant: 4, order_id: orderId, detail: `undone: ${undone.join(", ")}` });
      }
    } else if (status === "CANCELLED") {
      const problems = [
        n("captured") > 0 && "captured",
        n("confirmed") > 0 && "confirmed",
        n("reserved") !== n("released") && `reserved ${n("reserved")}, released ${n("released")}`,
        n("created") !== n("cancelled") && `created ${n("created")}, cancelled ${n("cancelled")}`,
        n("voided") !== 1 && `voided ${n("voided")}`,
      ].filter(Boolean);
      if (problems.length) {
        v.push({ invariant: 5, order_id: orderId, detail: problems.join("; ") });
      }
    }
  }

  for (const [orderId, entries] of logByOrder(stats)) {
    const at = new Map(entries.map((e) => [e.effect as string, e.at]));
    for (const [a, b] of BEFORE) {
      const ta = at.get(a);
      const tb = at.get(b);
      if (ta !== undefined && tb !== undefined && ta > tb) {
        v.push({ invariant: 6, order_id: orderId, detail: `${b} before ${a}` });
      }
    }
  }
  return v;
}
