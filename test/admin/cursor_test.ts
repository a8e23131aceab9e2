import assert from "node:assert/strict";
import { HTTPException } from "hono/http-exception";
import { decodeCursor, encodeCursor } from "../../src/admin/cursor.ts";

Deno.test("a cursor round-trips microseconds and the order id, URL-safe and opaque", () => {
  const c = { us: "1767225600123456", orderId: "7f0c2d5e-1a2b-4c3d-8e9f-0123456789ab" };
  const encoded = encodeCursor(c);
  assert.match(encoded, /^[A-Za-z0-9_-]+$/);
  assert.deepEqual(decodeCursor(encoded), c);
});

Deno.test("decodeCursor() refuses anything it did not hand out with a 400", () => {
  const b64 = (s: string) => btoa(s).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  for (
    const raw of [
      "%%%",
      "a",
      "x".repeat(500),
      b64("123|not-a-uuid"),
      b64(`abc|${crypto.randomUUID()}`),
      b64(`99999999999999999999|${crypto.randomUUID()}`),
      b64(crypto.randomUUID()),
      b64(`1|${crypto.randomUUID()}'; DROP TABLE order_ledger; --`),
    ]
  ) {
    assert.throws(() => decodeCursor(raw), (e: unknown) => {
      assert.ok(e instanceof HTTPException, raw);
      assert.equal(e.status, 400);
      assert.equal(e.message, "invalid cursor");
      return true;
    });
  }
});
