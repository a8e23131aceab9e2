// Checks, from the reference services' own counters, that every saga's
// downstream effects are what its final status says: no effect twice, a
// COMPLETED order created, reserved, captured and confirmed once, a CANCELLED
// one with nothing captured, its authorization voided, and whatever it did
// undone.
import { fetchStats, type ServiceStats } from "../reference_services/mod.ts";
import type { ServiceUrls } from "../cluster/mod.ts";

export interface EffectReport {
  checked: number;
  duplicates: number;
  /** Orders whose effects disagree with their final status (first few, with why). */
  mismatches: Array<{ order_id: string; status: string; problem: string }>;
  mismatchCount: number;
  faultsInjected: Record<string, number>;
  idempotentReplays: Record<string, number>;
  totals: Record<string, number>;
}

type Effects = Record<string, number>;

function effectsOf(stats: ServiceStats[], orderId: string): Effects {
  const out: Effects = {};
  for (const s of stats) Object.assign(out, s.effects[orderId] ?? {});
  return out;
}

/** Why `effects` do not fit `status`, or undefined when they do. */
export function problemWith(status: string, e: Effects): string | undefined {
  const n = (k: string) => e[k] ?? 0;
  const twice = Object.entries(e).filter(([, v]) => v > 1).map(([k]) => k);
  if (twice.length) return `more than once: ${twice.join(", ")}`;
  if (status === "COMPLETED") {
    const missing = ["created", "reserved", "captured", "confirmed"].filter((k) => n(k) !== 1);
    const undone = ["released", "cancelled", "voided"].filter((k) => n(k) > 0);
    if (missing.length) return `completed without ${missing.join(", ")}`;
    if (undone.length) return `completed but compensated: ${undone.join(", ")}`;
  } else if (status === "CANCELLED") {
    if (n("captured") > 0) return "cancelled with a captured payment";
    if (n("confirmed") > 0) return "cancelled but confirmed";
    if (n("voided") !== 1) return "cancelled without voiding the authorization";
    if (n("reserved") !== n("released")) return "cancelled with stock still reserved";
    if (n("created") !== n("cancelled")) return "cancelled but the order was not cancelled";
  }
  return undefined;
}

export async function verifyEffects(
  urls: ServiceUrls,
  statuses: Map<string, string>,
): Promise<EffectReport> {
  const stats = await Promise.all(
    Object.values(urls).map((url) => fetchStats(url, { log: false })),
  );
  const report: EffectReport = {
    checked: 0,
    duplicates: 0,
    mismatches: [],
    mismatchCount: 0,
    faultsInjected: {},
    idempotentReplays: {},
    totals: {},
  };
  for (const s of stats) {
    report.faultsInjected[s.service] = s.faultsInjected;
    report.idempotentReplays[s.service] = s.idempotentReplays;
    for (const [effect, n] of Object.entries(s.totals)) report.totals[effect] = n ?? 0;
    for (const perOrder of Object.values(s.effects)) {
      for (const n of Object.values(perOrder)) if ((n ?? 0) > 1) report.duplicates++;
    }
  }
  for (const [orderId, status] of statuses) {
    if (status === "RUNNING" || status === "NEEDS_ATTENTION") continue;
    report.checked++;
    const problem = problemWith(status, effectsOf(stats, orderId));
    if (problem) {
      report.mismatchCount++;
      if (report.mismatches.length < 5) {
        report.mismatches.push({ order_id: orderId, status, problem });
      }
    }
  }
  return report;
}
