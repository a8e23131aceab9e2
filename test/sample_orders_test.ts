// The sample orders of the demo and the bench: every order its own payment
// authorization. Two orders sharing one (an 8-hex-digit prefix of the order
// id, which collided within a long bench run) make Payments refuse the second
// capture, and the bench measured that as our saga needing an operator.
import assert from "node:assert/strict";
import { rng, sampleOrder } from "../tooling/cluster/orders.ts";

Deno.test("every sample order has an authorization of its own, naming its whole order id", () => {
  const random = rng(7);
  const seen = new Set<string>();
  for (const kind of ["happy", "declined"] as const) {
    for (let i = 0; i < 1000; i++) {
      const order = sampleOrder(random, kind);
      assert.ok(order.payment_authorization_id.endsWith(order.order_id));
      assert.ok(!seen.has(order.payment_authorization_id));
      seen.add(order.payment_authorization_id);
    }
  }
});
