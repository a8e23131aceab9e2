import assert from "node:assert/strict";
import { placeOrder, sampleOrder, waitForStatus } from "./helpers/orders.ts";
import { startInProcess } from "./helpers/inprocess.ts";
import { startSandbox } from "../tooling/reference_services/mod.ts";
import { freshDatabase } from "../tooling/cluster/mod.ts";

Deno.test("an OrderPlaced event becomes a COMPLETED saga", async () => {
  const db = await freshDatabase();
  const sandbox = await startSandbox();
  const o = startInProcess(db, sandbox.urls);
  try {
    const order = sampleOrder();
    await placeOrder(db.sql, order);
    const row = await waitForStatus(db.sql, order.order_id, [
      "COMPLETED",
      "CANCELLED",
      "NEEDS_ATTENTION",
    ]);
    assert.equal(row.status, "COMPLETED");
  } finally {
    await o.stop();
    await sandbox.close();
    await db.drop();
  }
});
