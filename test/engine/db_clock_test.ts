// Deadlines are computed on the database's clock: the offset a round trip
// observes is applied to local time, and a server time converts back for
// this process's own timers. Against a real server's now().
import assert from "node:assert/strict";
import { DbClock } from "../../src/engine/db_clock.ts";
import { freshDatabase } from "../../tooling/cluster/mod.ts";

Deno.test("DbClock takes the server's time, halfway through the round trip", () => {
  const clock = new DbClock();
  // A server 30 s ahead, seen by a round trip from t=1000 to t=1010.
  clock.observe(31_005, 1000, 1010);
  assert.equal(clock.offsetMs, 30_000);
  const before = Date.now();
  const now = clock.now();
  assert.ok(now >= before + 30_000 && now <= Date.now() + 30_000);
  assert.equal(clock.toLocal(50_000), 20_000);
  clock.observe(Number.NaN, 0, 0);
  assert.equal(clock.offsetMs, 30_000, "a missing server time changes nothing");
});

Deno.test("DbClock agrees with a real server's now() within a round trip", async () => {
  const db = await freshDatabase({ migrate: false });
  try {
    const clock = new DbClock();
    const sentAt = Date.now();
    const [row] = await db.sql<{ ms: number }[]>`
      SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`;
    clock.observe(Number(row!.ms), sentAt);
    const [check] = await db.sql<{ ms: number }[]>`
      SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS ms`;
    assert.ok(Math.abs(clock.now() - Number(check!.ms)) < 100, "within 100 ms of the server");
  } finally {
    await db.drop();
  }
});
