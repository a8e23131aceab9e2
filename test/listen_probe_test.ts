// The LISTEN probe on a direct connection: up within milliseconds when
// notifications arrive, down with a reason when they cannot (LISTEN on
// another database than the producers'), and probes are never work.
import assert from "node:assert/strict";
import { waitFor } from "./helpers/orders.ts";
import { startListener } from "../src/db/listener.ts";
import { freshDatabase } from "../tooling/cluster/mod.ts";

function recorder() {
  const events: string[] = [];
  let probeMs = NaN;
  return {
    events,
    probeMs: () => probeMs,
    callbacks: {
      onNotify: (payload: string) => events.push(`notify ${payload}`),
      onUp: (p: { probeMs: number }) => {
        probeMs = p.probeMs;
        events.push("up");
      },
      onDown: (reason: string) => events.push(`down ${reason}`),
    },
  };
}

Deno.test("on a direct connection the probe comes back in milliseconds and LISTEN is up", async () => {
  const db = await freshDatabase({ migrate: false });
  const r = recorder();
  const listener = startListener(db.url, r.callbacks, { probeSql: db.sql });
  try {
    await waitFor(() => r.events.length > 0, { what: "the probe's verdict" });
    assert.deepEqual(r.events, ["up"]);
    console.log(`probe round trip on a direct connection: ${r.probeMs().toFixed(1)} ms`);
    assert.ok(r.probeMs() < 1000, `${r.probeMs()} ms`);
  } finally {
    await listener.stop();
    await db.drop();
  }
});

Deno.test("a LISTEN on another database than the producers' fails its probe and says why", async () => {
  const producers = await freshDatabase({ migrate: false });
  const other = await freshDatabase({ migrate: false });
  const r = recorder();
  const listener = startListener(other.url, r.callbacks, {
    probeSql: producers.sql,
    probeTimeoutMs: 300,
  });
  try {
    await waitFor(() => r.events.length > 0, { what: "the probe's verdict" });
    assert.match(
      r.events[0]!,
      /^down LISTEN connected but a probe notification did not arrive within 300 ms/,
    );
    assert.match(r.events[0]!, /LISTEN_DATABASE_URL/);
    assert.ok(!r.events.includes("up"));
  } finally {
    await listener.stop();
    await producers.drop();
    await other.drop();
  }
});

Deno.test("another instance's probe is not work; a real notification is", async () => {
  const db = await freshDatabase({ migrate: false });
  const r = recorder();
  const listener = startListener(db.url, r.callbacks, { probeSql: db.sql });
  try {
    await waitFor(() => r.events.includes("up"), { what: "LISTEN up" });
    await db.sql`SELECT pg_notify('order_events', 'probe:from-another-instance')`;
    await db.sql`SELECT pg_notify('order_events', '42')`;
    // Delivered in commit order on one connection: once 42 is here, the probe was skipped.
    await waitFor(() => r.events.includes("notify 42"), { what: "the real notification" });
    assert.deepEqual(r.events, ["up", "notify 42"]);
  } finally {
    await listener.stop();
    await db.drop();
  }
});
