// Calls each saga cost the downstream services: every request the three
// reference services received (as it arrived: injected faults and retries
// included), by its Idempotency-Key, which the orchestrator (and every peer)
// sets to `<order id>:<step>` on every attempt of a step. Summed per order id.
import type { ServiceUrls } from "../cluster/mod.ts";
import { fetchStats } from "../reference_services/mod.ts";

export async function callsByOrder(urls: ServiceUrls): Promise<Map<string, number>> {
  const stats = await Promise.all(
    Object.values(urls).map((url) => fetchStats(url, { log: false, keys: true })),
  );
  const out = new Map<string, number>();
  for (const s of stats) {
    for (const [key, n] of Object.entries(s.callsByKey ?? {})) {
      const orderId = key.slice(0, key.lastIndexOf(":"));
      out.set(orderId, (out.get(orderId) ?? 0) + n);
    }
  }
  return out;
}
