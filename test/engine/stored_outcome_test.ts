// What a step leaves behind: one capped copy of its response body (saga_step),
// and history events without it, that still replay exactly.
import assert from "node:assert/strict";
import { MAX_STORED_BODY_BYTES, storedBody, storedEvent } from "../../src/engine/stored_outcome.ts";
import { harness, settled } from "../helpers/saga_assert.ts";
import { placeOrder, sampleOrder } from "../helpers/orders.ts";

Deno.test("storedBody keeps small bodies and notes the size of big ones", () => {
  assert.deepEqual(storedBody({ capture_id: "c-1" }), { capture_id: "c-1" });
  assert.equal(storedBody(undefined), null);
  const big = { blob: "x".repeat(MAX_STORED_BODY_BYTES) };
  assert.deepEqual(storedBody(big), { truncated: true, bytes: JSON.stringify(big).length });
});

Deno.test("storedEvent drops a step output's body and nothing else", () => {
  const event = {
    type: "xstate.done.actor.capturePayment",
    output: { outcome: "ok", status: 200, body: { capture_id: "c-1" } },
  };
  assert.deepEqual(storedEvent(event), {
    type: "xstate.done.actor.capturePayment",
    output: { outcome: "ok", status: 200 },
  });
  assert.deepEqual(storedEvent({ type: "CANCEL", reason: "r" }), { type: "CANCEL", reason: "r" });
});

Deno.test("a completed saga keeps each response once, in saga_step, and none in its history", async () => {
  const h = await harness();
  try {
    const order = sampleOrder();
    await placeOrder(h.sql, order);
    await settled(h.sql, order.order_id);
    const steps = await h.sql<{ step: string; response: Record<string, unknown> | null }[]>`
      SELECT step, response FROM saga_step WHERE order_id = ${order.order_id}`;
    const capture = steps.find((s) => s.step === "capturePayment");
    assert.ok(capture?.response && "capture_id" in capture.response, "the capture id is kept");
    const history = await h.sql<{ detail: unknown }[]>`
      SELECT detail FROM saga_history WHERE order_id = ${order.order_id}`;
    for (const row of history) {
      assert.ok(!JSON.stringify(row.detail ?? null).includes('"body"'), JSON.stringify(row.detail));
    }
  } finally {
    await h.close();
  }
});
