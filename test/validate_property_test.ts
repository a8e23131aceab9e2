// Property-based tests of outbox payload validation (fast-check).
import assert from "node:assert/strict";
import fc from "fast-check";
import { MAX_PAYLOAD_BYTES, validateEvent } from "../src/engine/validate.ts";
import type { SagaInput } from "../machines/order_saga.ts";
import { PoisonEventError } from "../src/errors.ts";

// Strings a hostile or careless producer might send: SQL, control and odd
// Unicode characters, emoji, right-to-left marks, very long values.
const hostile = fc.oneof(
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.constantFrom(
    "'); DROP TABLE outbox;--",
    '" OR 1=1 --',
    "Zoë 💸 \u202Eevil\u202C",
    "\u0000nul",
    "𝓤𝓷𝓲𝓬𝓸𝓭𝓮",
    "a".repeat(128),
  ),
).filter((s) => s.trim().length > 0);

const item = fc.record({
  sku: hostile,
  quantity: fc.integer({ min: 1, max: 1000 }),
  unit_price_cents: fc.integer({ min: 0, max: 1_000_000 }),
});

const validOrder = fc.record({
  order_id: fc.uuid({ version: 4 }),
  customer_id: hostile,
  items: fc.array(item, { minLength: 1, maxLength: 20 }),
  currency: fc.constantFrom("USD", "EUR", "JPY"),
  payment_authorization_id: hostile,
}).map((o) => ({
  ...o,
  total_cents: o.items.reduce((s, i) => s + i.quantity * i.unit_price_cents, 0),
}));

Deno.test("any payload and event type either validates or is rejected with a PoisonEventError", () => {
  fc.assert(
    fc.property(fc.string(), fc.uuid(), fc.jsonValue(), (type, id, payload) => {
      try {
        validateEvent(type, id, payload);
      } catch (err) {
        assert.ok(err instanceof PoisonEventError, `unexpected ${err}`);
        assert.ok(err.message.length > 0);
      }
    }),
    { numRuns: 500 },
  );
});

Deno.test("a valid OrderPlaced validates and keeps every value exactly as written", () => {
  fc.assert(
    fc.property(validOrder, (o) => {
      const v = validateEvent("OrderPlaced", o.order_id, o);
      assert.equal(v.kind, "start");
      if (v.kind !== "start") return;
      assert.equal(v.definition.name, "orderSaga");
      const budget = { forward: 1, confirm: 1, compensation: 1 };
      const { order } = v.definition.start.input(v.payload as never, { budget }) as SagaInput;
      assert.equal(order.orderId, o.order_id.toLowerCase());
      assert.equal(order.customerId, o.customer_id);
      assert.equal(order.authorizationId, o.payment_authorization_id);
      assert.deepEqual(order.items.map((i) => i.sku), o.items.map((i) => i.sku));
      assert.equal(order.totalCents, o.total_cents);
    }),
    { numRuns: 300 },
  );
});

Deno.test("breaking any one field of a valid order dead-letters it with a reason naming that field", () => {
  const breakers: Array<[string, (o: Record<string, unknown>) => void]> = [
    ["customer_id", (o) => o.customer_id = ""],
    ["items", (o) => o.items = []],
    ["quantity", (o) => (o.items as Array<Record<string, unknown>>)[0]!.quantity = 0],
    [
      "unit_price_cents",
      (o) => (o.items as Array<Record<string, unknown>>)[0]!.unit_price_cents = -1,
    ],
    ["currency", (o) => o.currency = "usd"],
    ["payment_authorization_id", (o) => delete o.payment_authorization_id],
    ["total_cents", (o) => o.total_cents = (o.total_cents as number) + 1],
    ["order_id", (o) => o.order_id = crypto.randomUUID()],
  ];
  fc.assert(
    fc.property(validOrder, fc.integer({ min: 0, max: breakers.length - 1 }), (o, k) => {
      const [field, breakIt] = breakers[k]!;
      const copy = structuredClone(o) as Record<string, unknown>;
      breakIt(copy);
      assert.throws(
        () => validateEvent("OrderPlaced", o.order_id, copy),
        (err: unknown) => err instanceof PoisonEventError && err.message.includes(field),
      );
    }),
    { numRuns: 300 },
  );
});

Deno.test("an oversized payload is rejected with its size as the reason", () => {
  const big = { order_id: crypto.randomUUID(), reason: "x".repeat(MAX_PAYLOAD_BYTES) };
  assert.throws(
    () => validateEvent("OrderCancellationRequested", big.order_id, big),
    /payload is \d+ bytes, more than the 65536 allowed/,
  );
});
